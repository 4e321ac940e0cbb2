// Certificates in the browser: the public verification page (/certificates/{code}: what the
// certificate says and whether it is valid or revoked) and, on /my, the list of one's own
// certificates with their PDF download links. Text from the server goes in with textContent.

import { api, ApiError } from "./api.js";
import { el, link, pathTail, say, sayProblem } from "./ui.js";

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeZone: "UTC" });

function day(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "";
}

function show(id, on = true) {
  document.getElementById(id).hidden = !on;
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

async function verifyPage() {
  const section = document.getElementById("certificate");
  const messages = document.getElementById("messages");
  const code = pathTail();
  try {
    const cert = await api("GET", `/certificates/${encodeURIComponent(code)}`);
    const revoked = cert.status === "revoked";
    const status = document.getElementById("certificate-status");
    status.textContent = revoked ? "Revoked" : "Valid";
    status.classList.add(revoked ? "status-archived" : "status-published");
    setText("certificate-revoked-at", day(cert.revoked_at));
    show("certificate-revoked", revoked);
    setText("certificate-student", cert.student_name);
    setText("certificate-course", cert.course_title);
    setText("certificate-instructor", cert.instructor_name);
    setText("certificate-completed", day(cert.completed_at));
    setText("certificate-issued", day(cert.issued_at));
    setText("certificate-code", cert.code);
    document.title = `${cert.student_name}: ${cert.course_title} · Seminar`;
    show("certificate-found");
  } catch (error) {
    if (error instanceof ApiError && error.code === "certificate_not_found") {
      show("certificate-missing");
    } else {
      sayProblem(messages, error, "The certificate could not be checked: ");
    }
  } finally {
    show("certificate-loading", false);
    section.setAttribute("aria-busy", "false");
  }
}

async function myCertificates() {
  const section = document.getElementById("my-certificates-section");
  const list = document.getElementById("my-certificates");
  if (!section || !list) return;
  let items;
  try {
    ({ items } = await api("GET", "/me/certificates"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // the page says to sign in
    const messages = document.getElementById("my-certificates-messages");
    if (messages) sayProblem(messages, error, "Your certificates could not be loaded: ");
    section.hidden = false;
    return;
  }
  section.hidden = items.length === 0;
  list.replaceChildren(
    ...items.map((cert) => {
      const item = el("li", null, "card course-item");
      const title = el("p");
      title.append(el("strong", cert.course_title));
      if (cert.status === "revoked") title.append(" ", el("span", "Revoked", "status status-archived"));
      const meta = el("p", `Issued on ${day(cert.issued_at)} · code `, "muted");
      meta.append(el("code", cert.code));
      const actions = el("p");
      if (cert.pdf_url) {
        // A revoked certificate has no PDF any more (the server answers 410).
        const download = link(cert.pdf_url, "Download PDF", "button secondary");
        download.setAttribute("download", `certificate-${cert.code}.pdf`);
        actions.append(download, " ");
      }
      actions.append(link(`/certificates/${encodeURIComponent(cert.code)}`, "Verification page"));
      item.append(title, meta, actions);
      return item;
    }),
  );
  const messages = document.getElementById("my-certificates-messages");
  if (messages) say(messages, "");
}

const page = document.body.dataset.page;
if (page === "certificate") verifyPage();
if (page === "my") myCertificates();
