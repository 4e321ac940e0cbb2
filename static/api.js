// The Seminar API as the pages use it: JSON over fetch with same-origin credentials, and every
// error answer turned into an ApiError carrying the RFC 9457 problem (code, detail, field errors).

export const API = "/api/v1";

/** An error answer from the API: an RFC 9457 problem (or what we could make of the response). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || `The server answered ${status}.`);
    this.status = status;
    this.code = problem.code || "error";
    this.fieldErrors = Array.isArray(problem.errors) ? problem.errors : [];
    this.requestId = problem.request_id || null;
    this.problem = problem; // the extension members too (e.g. a 402's subscription_url)
  }

  /** The link itself is bad: expired, used, never issued, or mangled on its way. */
  get badToken() {
    const aboutToken = (e) => Array.isArray(e.loc) && e.loc[1] === "token";
    return this.status === 410 || (this.status === 422 && this.fieldErrors.some(aboutToken));
  }
}

export async function api(method, path, body, headers = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, { detail: "The server cannot be reached. Is it running?" });
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    throw new ApiError(response.status, data || {});
  }
  return data;
}
