// Starts Swagger UI or ReDoc on /docs and /redoc from the vendored bundles (no inline script:
// the Content-Security-Policy allows scripts from this site's files only).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    // Sections folded: with every operation unfolded (some 140) the bundle stopped rendering after the
    // first two sections in Chromium; folded, each section opens on a click.
    window.SwaggerUIBundle({ url: swagger.dataset.openapiUrl, dom_id: "#swagger-ui", deepLinking: true,
                             docExpansion: "none" });
  }
  const redoc = document.getElementById("redoc");
  if (redoc && window.Redoc) {
    window.Redoc.init(redoc.dataset.openapiUrl, {}, redoc);
  }
});
