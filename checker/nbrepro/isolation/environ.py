"""Which environment variables reach the processes nbrepro starts.

One allow-list per kind of process, so the harness's secrets (tokens, cloud
credentials) never reach audited code: kernels get a few locale and numeric-library
settings; resolvers and installers get the package index settings nbrepro passes on,
with every credential removed, and nbrepro's own settings. Configuration files of
uv and pip are never read (`UV_NO_CONFIG`, `PIP_CONFIG_FILE`): a `uv.toml` or a
`[tool.uv]` table in the audited repository cannot redirect an install.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# A kernel's environment, besides what nbrepro sets itself (PATH, HOME, ...).
KERNEL_ENV_KEEP = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "OPENBLAS_CORETYPE",
                   "OPENBLAS_L2_SIZE")
# Variables a resolver or installer may get besides the index settings below.
TOOL_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "SOURCE_DATE_EPOCH",
                 "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                 "PIP_CERT", "NIX_SSL_CERT_FILE", "GIT_SSL_CAINFO", "UV_NATIVE_TLS",
                 "UV_HTTP_TIMEOUT", "UV_CONCURRENT_DOWNLOADS", "UV_INDEX_STRATEGY",
                 "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
                   "http_proxy", "https_proxy", "no_proxy", "all_proxy")
# Package index settings: passed on to installs, without the credentials they hold.
INDEX_VARIABLES = ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX",
                   "UV_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
                   "PIP_TRUSTED_HOST", "PIP_NO_INDEX", "UV_NO_INDEX")
# A CA bundle file a container build copies in, so TLS through a proxy works.
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE")
# Settings nbrepro always sets for resolvers and installers, wherever they run.
TOOL_SETTINGS = {
    "UV_NO_CONFIG": "1",  # no uv.toml / pyproject.toml [tool.uv] from anywhere
    "UV_PYTHON_DOWNLOADS": "never",  # interpreters are never downloaded
    "PIP_CONFIG_FILE": os.devnull,  # no pip.conf (pip, pip-tools)
    "PIP_NO_INPUT": "1",
}
_SECRET = re.compile(r"TOKEN|PASSWORD|SECRET|CREDENTIAL|USERNAME|AUTH|KEYRING|NETRC", re.I)
_URL = re.compile(r"[a-z][a-z0-9+.\-]*://[^\s,]+", re.I)


def without_credentials(value: str) -> str:
    """`value` with the user:password part of every URL in it removed."""

    def strip(match: re.Match[str]) -> str:
        try:
            parts = urlsplit(match.group(0))
        except ValueError:
            return ""
        if "@" not in parts.netloc:
            return match.group(0)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))

    return _URL.sub(strip, value)


def index_settings(base: Mapping[str, str]) -> dict[str, str]:
    """The package index settings of `base`, without credentials."""
    return {k: without_credentials(v) for k, v in base.items()
            if k in INDEX_VARIABLES and v}


def tool_environment(base: Mapping[str, str], home: Path | None = None) -> dict[str, str]:
    """The environment of a resolver or installer that runs audited build code: an
    allow-list of `base`, index settings without credentials, no proxies (the
    sandbox reaches the network through nbrepro's own proxy) and nbrepro's settings."""
    env = {k: v for k, v in base.items() if k in TOOL_ENV_KEEP and not _SECRET.search(k)}
    env.update(index_settings(base))
    env.update(TOOL_SETTINGS)
    if home is not None:
        env["HOME"] = str(home)
    return env


def host_tool_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of uv when it runs on the host without any audited code (finding
    an interpreter, creating a venv, installing wheels): the user's own environment,
    credentials included, but never a configuration file."""
    env = dict(base)
    env.pop("VIRTUAL_ENV", None)
    env.update(TOOL_SETTINGS)
    return env
