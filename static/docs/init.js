// Swagger UI bootstrap for /static/docs/index.html (kept out of the HTML so
// the page works under a strict CSP: script-src 'self').
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Don't send the spec to, or load a badge from, validator.swagger.io.
    validatorUrl: null,
  });
});
