"""Fuzzing a live ``regsearch serve`` over HTTP: whatever is sent, no answer is a 5xx.

schemathesis generates requests from the service's own OpenAPI description
(valid ones, then invalid ones for each parameter and body) and hypothesis
adds raw query strings the description does not foresee; all go over real
HTTP to a service indexing a real registry. Afterwards the service still
answers, wrote no traceback, and no secret reached its log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.integration.stack import running_stack
from tests.support.oci import OciBuilder
from tests.support.registry import RegistryProcess

pytestmark = pytest.mark.integration

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)
PATHS = ("/api/v1/search", "/v1/search", "/api/v1/suggest", "/api/v1/digests/{}", "/api/v1/repositories/{}",
         "/api/v1/images/{}", "/")


def test_no_request_makes_the_live_service_answer_5xx(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    with running_stack(registry_factory, tmp_path, oci_builder) as stack:
        stack.push_image("fuzz/app", "1.0", config={"labels": {"org.opencontainers.image.description": "fuzz target"}})
        stack.wait_names(lambda names: names == ["fuzz/app"], q="fuzz")
        service = stack.service
        schema = schemathesis.openapi.from_url(f"{service.url}/api/v1/openapi.json")
        session = requests.Session()
        answers: list[int] = []

        def call(case: schemathesis.Case) -> None:
            response = case.call(base_url=service.url, session=session, timeout=30)
            answers.append(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.text}"

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            FUZZ(given(case=schema.as_strategy(mode))(call))()

        @FUZZ
        @given(path=st.sampled_from(PATHS), text=st.text(max_size=300), name=st.sampled_from(["q", "n", "page",
               "limit", "offset", "kind", "arch", "sort", "facets", "prefix", "label", "tag", "x"]))
        def raw(path: str, text: str, name: str) -> None:
            url = service.url + path.format(quote(text, safe="")) + f"?{name}={quote(text, safe='')}"
            response = session.get(url, timeout=30)
            answers.append(response.status_code)
            assert response.status_code < 500, f"GET {url}: {response.text}"

        raw()
        assert len(answers) > 300 and any(code >= 400 for code in answers) and 200 in answers
        assert stack.names(q="fuzz") == ["fuzz/app"]  # still serving, nothing lost
        log = service.log()
        assert "Traceback" not in log
        assert service.token not in log
