"""What an orchagent server's `/meta` says about it, as `runbridge doctor` shows it."""

from __future__ import annotations

from runbridge.backends.orchagent.meta import host_info_from_meta, meta_refused


def test_meta_gives_the_servers_name_version_and_deprecations_in_either_shape() -> None:
    info = host_info_from_meta(
        {
            "name": "orchagent",
            "version": "0.4.0",
            "deprecations": [
                "v0 event names",
                {"feature": "limit>1000", "message": "History pages stop at 1000.", "sunset_date": "2027-03-01"},
                {"name": "old-approvals"},
                42,
            ],
        }
    )
    assert info.available
    assert info.server == "orchagent 0.4.0"
    assert info.deprecations == [
        "v0 event names",
        "limit>1000: History pages stop at 1000 (until 2027-03-01)",
        "old-approvals",
    ]
    assert info.foreign is None


def test_a_long_deprecation_list_is_cut_and_counted() -> None:
    info = host_info_from_meta({"deprecations": [f"d{i}" for i in range(8)]})
    assert info.server is None
    assert info.deprecations == ["d0", "d1", "d2", "d3", "d4", "and 3 more"]


def test_a_meta_that_is_not_an_object_or_is_refused_is_not_an_orchagent_server_but_a_failing_one_may_be() -> None:
    assert host_info_from_meta(["not", "an", "object"]).foreign
    assert meta_refused(404).foreign == "GET /meta, which every orchagent server answers, got HTTP 404"
    assert meta_refused(401).foreign
    failing = meta_refused(503)
    assert failing.foreign is None
    assert failing.note == "GET /meta answered HTTP 503"
