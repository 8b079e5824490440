// Starts Swagger UI or ReDoc on /docs and /redoc from the vendored bundles (no inline script:
// the Content-Security-Policy allows scripts from this site's files only).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    window.SwaggerUIBundle({ url: swagger.dataset.openapiUrl, dom_id: "#swagger-ui", deepLinking: true });
  }
  const redoc = document.getElementById("redoc");
  if (redoc && window.Redoc) {
    window.Redoc.init(redoc.dataset.openapiUrl, {}, redoc);
  }
});
