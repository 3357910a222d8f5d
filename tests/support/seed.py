"""Names the emulator's packaged seed (``tencentcloud_emulator/default_seed.yaml``) defines, as
tests write them into roles and requests, and inline policy documents to go with them.

Plain values that import nothing, so that the emulator's own tests can use them too.
"""

from __future__ import annotations

from typing import Any

DEMO_ROLE_ARN = "qcs::cam::uin/100000000001:roleName/vault-demo-role"
"""The role the first account's root may assume (and the instance role of the metadata API)."""

COS_READ = "policy_name:QcloudCOSReadOnlyAccess,scope:All"
"""The seed's preset COS read-only policy, as a role's ``remote_policies`` names it."""

CVM_DOC: dict[str, Any] = {
    "version": "2.0",
    "statement": [{"effect": "allow", "action": ["cvm:*"], "resource": "*"}],
}
"""An inline policy document that allows every CVM action."""

COS_DENY_DOC: dict[str, Any] = {
    "version": "2.0",
    "statement": [{"effect": "deny", "action": ["cos:*"], "resource": "*"}],
}
"""An inline policy document that denies every COS action."""

OIDC_ROLE_ARN = "qcs::cam::uin/100000000001:roleName/vault-demo-oidc-role"
"""The role the demo identity provider's tokens may assume."""
OIDC_PROVIDER = "demo-idp"
OIDC_AUDIENCE = "vault-demo"
OIDC_SECRET = "emulator-demo-oidc-secret-not-real"
"""The HS256 key the demo identity provider checks tokens with (fake and public)."""
