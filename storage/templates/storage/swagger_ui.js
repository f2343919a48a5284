"use strict";
// storage.docs_views.SwaggerView: Swagger UI with its top bar, whose selector lists the
// documents of `urls` (the global one and each storage's contract).
const swaggerSettings = {{ settings|safe }};

// The session's CSRF token on unsafe methods (DRF's session authentication checks it).
const requestInterceptor = (request) => {
  if (!["GET", "HEAD", "OPTIONS", undefined].includes(request.method)) {
    request.headers["{{ csrf_header_name }}"] = "{{ csrf_token }}";
  }
  return request;
};

const ui = SwaggerUIBundle({
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "StandaloneLayout",
  requestInterceptor,
  ...swaggerSettings,
});
