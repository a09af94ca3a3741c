"""Which environment variables reach the processes nbrepro starts.

One allow-list per kind of process, so the harness's secrets (tokens, cloud
credentials) never reach audited code: kernels get a few locale and numeric-library
settings; resolvers and installers also get index, proxy and TLS settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

# A kernel's environment, besides what nbrepro sets itself (PATH, HOME, ...).
KERNEL_ENV_KEEP = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "OPENBLAS_CORETYPE",
                   "OPENBLAS_L2_SIZE")
# Environment variables a resolver or installer may need (index, proxy and TLS
# settings); everything else the user has stays out of reach of the audited
# repository's setup.py and build backends.
TOOL_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "SOURCE_DATE_EPOCH",
                 "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                 "PIP_CERT", "NIX_SSL_CERT_FILE", "GIT_SSL_CAINFO")
TOOL_ENV_PREFIXES = ("UV_", "PIP_", "LC_")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
                   "http_proxy", "https_proxy", "no_proxy", "all_proxy")
# Package index settings a container build receives as build arguments.
INDEX_VARIABLES = ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX",
                   "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
# A CA bundle file a container build copies in, so TLS through a proxy works.
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE")
_SECRET = re.compile(r"TOKEN|PASSWORD|SECRET|CREDENTIAL", re.I)


def tool_environment(base: Mapping[str, str], home: Path | None = None) -> dict[str, str]:
    """An allow-listed copy of `base` for resolver/installer subprocesses."""
    env = {
        k: v for k, v in base.items()
        if (k in TOOL_ENV_KEEP or k in PROXY_VARIABLES or k.startswith(TOOL_ENV_PREFIXES))
        and not _SECRET.search(k)
    }
    if home is not None:
        env["HOME"] = str(home)
    return env


