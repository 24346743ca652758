"""Security headers on every answer, and trusting a proxy only as far as configured."""

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style anywhere: htmx is configured for it (see layout.html).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
    ]
)
# Answers that set their own Cache-Control: static files, and the API's discovery documents,
# which hold no personal data and are revalidated with their ETag (private, no-cache).
REVALIDATED = frozenset({"static", "brand_styles", "api.brands", "api.topics", "api.consent_texts"})


def init_app(app: Flask) -> None:
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        # Only the configured number of proxies is believed; X-Forwarded-For is never read raw.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Links carry tokens in their paths: never leak a URL to another site.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if app.config["PORTAL_ENV"] != "development":
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if request.endpoint not in REVALIDATED:
            # Pages may show personal data; nothing dynamic is stored by browsers or proxies.
            response.headers["Cache-Control"] = "no-store"
        return response
