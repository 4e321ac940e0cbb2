// Seminar start page: register, sign in, see who you are, sign out; the navigation gets the
// signed-in user's links (orders, earnings, revenue… by role; static/nav.js) like other pages.
// A plain ES module (no inline script: CSP script-src 'self'); every text from the server is
// set with textContent, never parsed as HTML.

import { ApiError, api } from "./api.js";
import { showAccountLinks } from "./nav.js";

// --- The message region (aria-live) and per-field errors ------------------------------------

const messages = document.getElementById("messages");

function say(text, kind = "info", details = []) {
  messages.replaceChildren();
  messages.className = `messages ${kind}`;
  if (!text) return;
  const p = document.createElement("p");
  p.textContent = text;
  messages.append(p);
  if (details.length) {
    const list = document.createElement("ul");
    for (const line of details) {
      const li = document.createElement("li");
      li.textContent = line;
      list.append(li);
    }
    messages.append(list);
  }
}

const FIELD_LABELS = { name: "Name", email: "Email", password: "Password" };

function clearFieldErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
  }
  for (const error of form.querySelectorAll(".field-error")) {
    error.textContent = "";
    error.hidden = true;
  }
}

/** Shows a problem: its detail in the live region, its field errors next to the fields. */
function showProblem(form, error) {
  const details = [];
  for (const fieldError of error.fieldErrors) {
    const loc = Array.isArray(fieldError.loc) ? fieldError.loc : [];
    const field = loc[0] === "body" && typeof loc[1] === "string" ? loc[1] : null;
    const input = field && form ? form.elements.namedItem(field) : null;
    const empty = input instanceof HTMLInputElement && input.value.trim() === "";
    const message = empty ? "Please fill this in." : fieldError.message || "is not valid";
    details.push(`${FIELD_LABELS[field] || field || "Request"}: ${message}`);
    if (input instanceof HTMLInputElement) {
      input.setAttribute("aria-invalid", "true");
      const slot = document.getElementById(`${input.id}-error`);
      if (slot) {
        slot.textContent = message;
        slot.hidden = false;
      }
    }
  }
  const reference = error.requestId ? ` (reference ${error.requestId})` : "";
  say(error.status >= 500 ? error.message + reference : error.message, "error", details);
  form?.querySelector('[aria-invalid="true"]')?.focus(); // the first one on the page
}

// --- Signed in or not ------------------------------------------------------------------------

const loading = document.getElementById("loading");
const account = document.getElementById("account");
const signedOut = document.getElementById("signed-out");
const whoami = document.getElementById("whoami");
const unverified = document.getElementById("unverified");

function showSignedIn(user) {
  const name = document.createElement("strong");
  name.textContent = user.name;
  whoami.replaceChildren("Signed in as ", name, ` (${user.email}, ${user.role})`);
  unverified.hidden = Boolean(user.email_verified);
  showAccountLinks(user);
  loading.hidden = true;
  signedOut.hidden = true;
  account.hidden = false;
}

function showSignedOut() {
  showAccountLinks(null);
  loading.hidden = true;
  account.hidden = true;
  signedOut.hidden = false;
}

async function refresh() {
  try {
    showSignedIn(await api("GET", "/users/me"));
  } catch (error) {
    showSignedOut();
    if (error.status !== 401) say(error.message, "error");
  }
}

// --- Forms -----------------------------------------------------------------------------------

function values(form) {
  const data = Object.fromEntries(new FormData(form));
  // Trim what is not a password; a password is taken exactly as typed.
  for (const key of Object.keys(data)) {
    if (key !== "password") data[key] = String(data[key]).trim();
  }
  return data;
}

/** Runs ``action`` for a form submission with the button disabled and errors shown. */
function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    clearFieldErrors(form);
    say("");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await action(values(form));
      form.reset();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showProblem(form, error);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}

async function logIn(email, password) {
  const user = await api("POST", "/auth/login", { email, password });
  showSignedIn(user);
  // The focused button just disappeared: move keyboard and screen-reader focus to the account.
  document.getElementById("account-title").focus();
  return user;
}

onSubmit(document.getElementById("login-form"), async ({ email, password }) => {
  const user = await logIn(email, password);
  say(`Welcome back, ${user.name}.`, "success");
});

onSubmit(document.getElementById("register-form"), async ({ name, email, password }) => {
  await api("POST", "/auth/register", { name, email, password });
  let user;
  try {
    user = await logIn(email, password);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    say(`Your account is ready, but signing in failed: ${error.message}`, "error");
    return;
  }
  say(`Your account is ready, ${user.name}. You are signed in.`, "success");
});

document.getElementById("logout").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api("POST", "/auth/logout");
    showSignedOut();
    say("You are signed out.", "success");
    document.getElementById("login-email").focus();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) showSignedOut();
    showProblem(null, error);
  } finally {
    button.disabled = false;
  }
});

document.getElementById("resend-verification").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    const answer = await api("POST", "/auth/verify-email");
    say(answer.detail, "success");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) showSignedOut();
    showProblem(null, error);
  } finally {
    button.disabled = false;
  }
});

refresh();
