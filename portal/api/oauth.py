"""OAuth 2.0 client credentials (RFC 6749 section 4.4) beside the API keys, with Authlib.

``POST /api/v1/oauth/token`` takes an API client's id and one of its valid keys as the secret
(HTTP Basic, or ``client_id`` and ``client_secret`` in the form) and answers a short-lived
bearer token (``API_TOKEN_SECONDS``) with the scopes asked for, narrowed to the client's.

Tokens are JWTs (RFC 9068) signed with HMAC-SHA-256 under a key derived from ``SECRET_KEY``,
so every app server checks them without a shared store. Each names the key prefix it was
issued for: revoking the client, retiring or rotating that key out ends its tokens too, within
``API_KEY_CACHE_SECONDS`` on other servers, as for keys. Errors are RFC 6749's JSON
(``{"error": "invalid_client"}``), not problem documents, as OAuth client libraries expect.
"""

import base64
import hashlib
import hmac

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator, JWTBearerTokenValidator
from flask import Flask, current_app

from portal.api import blueprint, examples, openapi
from portal.api.contract import PUBLIC, operation
from portal.core.integrations import clients
from portal.core.integrations.models.api import SCOPES, ApiClient
from portal.extensions import db

AUDIENCE = "consent-api"
ALGORITHM = "HS256"


def _jwks() -> dict:
    """The signing key: derived from SECRET_KEY, so each app server has the same one."""
    secret = current_app.config["SECRET_KEY"].encode()
    raw = hmac.new(secret, b"portal api access token v1", hashlib.sha256).digest()
    return {"kty": "oct", "k": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


def _issuer() -> str:
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + "/api/v1"


class OAuthClient(ClientMixin):
    """An API client as Authlib asks about it; its id is the API client's id."""

    def __init__(self, client: ApiClient):
        self.client = client
        self.key_prefix: str | None = None  # the key that authenticated this request

    def get_client_id(self):
        return str(self.client.id)

    def check_client_secret(self, client_secret):
        if not clients.key_matches(self.client, client_secret):
            return False
        self.key_prefix = client_secret.split(".", 1)[0]
        return True

    def check_endpoint_auth_method(self, method, endpoint):
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope):
        """The scopes asked for that the client holds; none asked: all it holds."""
        held = self.client.scopes
        if not scope:
            return " ".join(held)
        return " ".join(s for s in held if s in scope.split())


def _query_client(client_id: str) -> OAuthClient | None:
    if not client_id.isascii() or not client_id.isdigit() or len(client_id) > 12:
        return None
    client = db.session.get(ApiClient, int(client_id))
    return OAuthClient(client) if client is not None and client.revoked_at is None else None


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class TokenGenerator(JWTBearerTokenGenerator):
    def get_jwks(self):
        return _jwks()

    def get_audiences(self, client, user, scope):
        return AUDIENCE

    def get_extra_claims(self, client, grant_type, user, scope):
        return {"kp": client.key_prefix}

    @property
    def issuer(self):
        return _issuer()

    @issuer.setter
    def issuer(self, value):
        pass  # read from the configuration of the app serving the request


class TokenValidator(JWTBearerTokenValidator):
    def __init__(self):
        super().__init__(issuer=None, resource_server=AUDIENCE)

    def get_jwks(self):
        return _jwks()

    def validate_iss(self, claims, iss):
        return iss == _issuer()


# Nothing to save: a token is checked by its signature, and ended through its key or client.
server = AuthorizationServer(query_client=_query_client, save_token=lambda token, request: None)
server.register_grant(ClientCredentials)
_validator = TokenValidator()


def access(token: str) -> tuple[ApiClient, list[str]] | None:
    """The client and scopes an access token grants, or None for anything not a valid, live
    token (malformed, forged, expired, its key retired or its client revoked)."""
    try:
        claims = _validator.authenticate_token(token)
        _validator.validate_token(claims, [], None)
        client_id, prefix = int(claims["sub"]), str(claims["kp"])
        asked = str(claims.get("scope") or "").split()
    except (InvalidTokenError, KeyError, TypeError, ValueError):
        return None
    client = clients.by_token(client_id, prefix)
    if client is None:
        return None
    return client, [scope for scope in client.scopes if scope in asked]


@blueprint.post("/oauth/token")
@operation(
    operation_id="issueAccessToken",
    reads_only=False,
    may_lag=False,
    summary="A short-lived access token for an API client (OAuth 2.0 client credentials)",
    scope=PUBLIC,
    ok="TokenResponse",
    example=examples.TOKEN,
    errors=(413, 429),
    responses={
        400: openapi.oauth_error("A malformed request, another grant type or an unknown scope."),
        401: openapi.oauth_error("No such client, or not one of its valid keys (invalid_client)."),
    },
    openapi={
        "description": "The client authenticates with its id and one of its valid keys as the "
        "secret, by HTTP Basic (client_secret_basic) or in the form (client_secret_post). The "
        "token carries the scopes asked for that the client holds (all of them when none are "
        "asked) and is sent as `Authorization: Bearer <token>` like a key. Errors are RFC 6749 "
        "section 5.2 JSON, as OAuth client libraries expect.",
        "security": [{"basic": []}, {}],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"$ref": "#/components/schemas/TokenRequest"},
                    "example": {"grant_type": "client_credentials", "scope": "consent:read"},
                }
            },
        },
    },
)
def token():
    return server.create_token_response()


def init_app(app: Flask) -> None:
    server.init_app(app)  # reads OAUTH2_* settings, replacing the token generator: set ours after
    server.scopes_supported = list(SCOPES)
    server.register_token_generator(
        "default",
        TokenGenerator(
            issuer=None,
            alg=ALGORITHM,
            expires_generator=lambda client, grant_type: current_app.config["API_TOKEN_SECONDS"],
        ),
    )
