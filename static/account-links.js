// The pages that account emails link to:
//   /reset-password?token=…   choose a new password (without a token: ask for a reset link)
//   /verify-email?token=…     confirm an email address
// A plain ES module (no inline script: CSP script-src 'self'); every text from the server is set
// with textContent, never parsed as HTML.
//
// The token is a secret. It is read once from the address and removed from it at once
// (history.replaceState), so it stays out of the history, bookmarks, shared screenshots and
// Referer headers (the server also sends Referrer-Policy: no-referrer); it is only ever sent
// in the body of a POST.

import { ApiError, api } from "./api.js";

/** Takes the token out of the address bar and returns it (null when there is none). */
function takeToken() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (url.searchParams.has("token")) {
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  }
  return token && token.trim() ? token.trim() : null;
}

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

const FIELD_LABELS = {
  email: "Email",
  new_password: "New password",
  confirm_password: "New password, again",
};

function clearFieldErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
  }
  for (const error of form.querySelectorAll(".field-error")) {
    error.textContent = "";
    error.hidden = true;
  }
}

/** Marks one field as wrong, with its message next to it; returns the line for the summary. */
function markField(input, message) {
  input.setAttribute("aria-invalid", "true");
  const slot = document.getElementById(`${input.id}-error`);
  if (slot) {
    slot.textContent = message;
    slot.hidden = false;
  }
  return `${FIELD_LABELS[input.name] || input.name}: ${message}`;
}

function withReference(error) {
  const reference = error.requestId ? ` (reference ${error.requestId})` : "";
  return error.status >= 500 ? error.message + reference : error.message;
}

/** Shows a problem: its detail in the live region, its field errors next to the fields. */
function showProblem(form, error) {
  const details = [];
  for (const fieldError of error.fieldErrors) {
    const loc = Array.isArray(fieldError.loc) ? fieldError.loc : [];
    const field = loc[0] === "body" && typeof loc[1] === "string" ? loc[1] : null;
    const input = field && form ? form.elements.namedItem(field) : null;
    const message = fieldError.message || "is not valid";
    if (input instanceof HTMLInputElement) {
      details.push(markField(input, message));
    } else {
      details.push(`${FIELD_LABELS[field] || field || "Request"}: ${message}`);
    }
  }
  say(withReference(error), "error", details);
  form?.querySelector('[aria-invalid="true"]')?.focus(); // the first one on the page
}

/** Shows one of the page's cards and hides the others; moves focus to its heading. */
function showCard(id, cards) {
  for (const card of cards) {
    document.getElementById(card).hidden = card !== id;
  }
  document.querySelector(`#${id} h1`)?.focus();
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
      await action(form);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showProblem(form, error);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}

// --- /reset-password -------------------------------------------------------------------------

function resetPasswordPage() {
  const cards = ["reset", "done", "request"];
  const resetForm = document.getElementById("reset-form");
  const requestForm = document.getElementById("request-form");
  const newPassword = document.getElementById("new-password");
  const confirmPassword = document.getElementById("confirm-password");
  let token = takeToken();

  function askForNewLink(problem) {
    token = null;
    resetForm.reset();
    showCard("request", cards);
    if (problem) say(problem, "error");
  }

  onSubmit(resetForm, async () => {
    // A password is taken exactly as typed: never trimmed.
    const details = [];
    if (newPassword.value === "") {
      details.push(markField(newPassword, "Please fill this in."));
    } else if (newPassword.value.length < 8) {
      details.push(markField(newPassword, "Use at least 8 characters."));
    }
    if (confirmPassword.value !== newPassword.value) {
      details.push(markField(confirmPassword, "The two passwords do not match."));
    }
    if (details.length) {
      say("Please correct the marked fields.", "error", details);
      resetForm.querySelector('[aria-invalid="true"]').focus();
      return;
    }
    try {
      await api("POST", "/auth/password-reset/confirm", {
        token,
        new_password: newPassword.value,
      });
    } catch (error) {
      if (!(error instanceof ApiError) || !error.badToken) throw error;
      askForNewLink("This link is invalid, expired or already used; request a new one.");
      return;
    }
    token = null;
    resetForm.reset();
    showCard("done", cards);
    say("Your password is changed. Sign in with your new password.", "success");
  });

  onSubmit(requestForm, async () => {
    const email = requestForm.elements.namedItem("email").value.trim();
    if (email === "") {
      const line = markField(requestForm.elements.namedItem("email"), "Please fill this in.");
      say("Please correct the marked fields.", "error", [line]);
      requestForm.elements.namedItem("email").focus();
      return;
    }
    const answer = await api("POST", "/auth/password-reset", { email });
    requestForm.reset();
    say(
      `${answer?.detail || "A reset link is on its way."} It is valid for a limited time: ` +
        "open the newest one.",
      "success",
    );
  });

  if (token) {
    showCard("reset", cards);
  } else {
    // Opened without a token (from "Forgot your password?", or reloaded after the token was
    // taken out of the address): ask for a link.
    document.getElementById("request").hidden = false;
  }
}

// --- /verify-email ---------------------------------------------------------------------------

async function verifyEmailPage() {
  const card = document.getElementById("verify");
  const progress = document.getElementById("verify-progress");
  const token = takeToken();

  function finish(id) {
    progress.hidden = true;
    card.removeAttribute("aria-busy");
    document.getElementById(id).hidden = false;
    document.getElementById("verify-title").focus();
  }

  async function offerNewLink() {
    let user = null;
    try {
      user = await api("GET", "/users/me");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
    if (user?.email_verified) {
      say(`Your email address ${user.email} is already confirmed. Nothing more to do.`, "success");
      finish("verify-done");
      return;
    }
    if (user) {
      document.getElementById("resend-email").textContent = user.email;
      document.getElementById("resend-signed-in").hidden = false;
      document.getElementById("resend").hidden = false;
    } else {
      document.getElementById("resend-signed-out").hidden = false;
    }
    finish("verify-failed");
  }

  document.getElementById("resend").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const answer = await api("POST", "/auth/verify-email");
      say(answer?.detail || "A new link is on its way.", "success");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(withReference(error), "error");
    } finally {
      button.disabled = false;
    }
  });

  async function confirm() {
    try {
      const user = await api("POST", "/auth/verify-email/confirm", { token });
      say(`Your email address ${user.email} is confirmed. Thank you, ${user.name}.`, "success");
      finish("verify-done");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.badToken) {
        say("This link is invalid, expired or already used.", "error");
        await offerNewLink();
      } else {
        // Not the link's fault (the server is down, a rate limit): the token is still good.
        say(`Your email address could not be confirmed: ${withReference(error)}`, "error");
        document.getElementById("retry").hidden = false;
        finish("verify-failed");
      }
    }
  }

  document.getElementById("retry").addEventListener("click", async (event) => {
    event.currentTarget.hidden = true;
    document.getElementById("verify-failed").hidden = true;
    progress.hidden = false;
    card.setAttribute("aria-busy", "true");
    say("");
    await confirm();
  });

  if (token) {
    await confirm();
  } else {
    say("This link is incomplete: open the link from your email again.", "error");
    await offerNewLink();
  }
}

// ---------------------------------------------------------------------------------------------

const PAGES = { "reset-password": resetPasswordPage, "verify-email": verifyEmailPage };
PAGES[document.body.dataset.page]?.();
