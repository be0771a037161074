"""``werfop resolve`` refuses a mistaken command line with exit 2 before any network
call, naming the flag in the CLI's words, and says why nothing was selected."""

from __future__ import annotations

import json

import pytest

from werfop.main import _parser, main
from werfop.resolve import _policy, usage_error


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["https://ghcr.io/acme/shop"],
            "REPOSITORY: 'https://ghcr.io/acme/shop' is not host[:port]/path",
            id="scheme",
        ),
        pytest.param(
            ["ghcr.io/acme/shop:1.0"], "REPOSITORY: 'ghcr.io/acme/shop:1.0' is not", id="tag"
        ),
        pytest.param(
            ["ghcr.io/acme/shop@sha256:" + "0" * 64], "is not host[:port]/path", id="digest"
        ),
        pytest.param(
            ["--tags", "1.0.0", "--last-applied", "banana"],
            "--last-applied: 'banana' is not a version",
            id="last-applied",
        ),
        pytest.param(
            ["--tags", "1.0.0", "--tag", "bad:tag"],
            "--tag: 'bad:tag' is not an OCI tag",
            id="bad-tag",
        ),
        pytest.param(
            ["--tags", "1.0.0", "--constraint", ">=banana"], "--constraint: ", id="constraint"
        ),
        pytest.param(
            ["--tags", "1.0.0", "--include", "(?!x)"],
            "--include: invalid regular expression",
            id="include",
        ),
        pytest.param(
            ["--tags", "1.0.0", "--exclude", "("],
            "--exclude: invalid regular expression",
            id="exclude",
        ),
        pytest.param(
            ["--tags", "1.0.0", "--constraint", "^1", "--tag", "x"], "mutually exclusive", id="both"
        ),
        pytest.param([], "give either --tags or a REPOSITORY", id="neither"),
    ],
)
def test_a_mistaken_command_line_exits_2_naming_the_flag(capsys, argv, message):
    # An unroutable repository: reaching the network would hang or fail with exit 1.
    code = main(["resolve", *argv])

    err = capsys.readouterr().err
    assert 2 == code
    assert message in err
    assert "spec.registry" not in err


@pytest.mark.parametrize("repository", ["localhost:5000/acme/shop", "oci://ghcr.io/acme/shop"])
def test_a_repository_with_a_port_or_oci_prefix_is_usable(repository):
    args = _parser().parse_args(["resolve", repository, "--constraint", "^1"])

    assert None is usage_error(args, _policy(args))


def test_a_tag_that_is_not_there_says_so(capsys):
    code = main(["resolve", "--tags", "1.0.0,2.0.0", "--tag", "nosuch"])

    document = json.loads(capsys.readouterr().out)
    assert 0 == code
    assert None is document["selected"]
    assert "tag 'nosuch' is not among the repository's 2 tags" == document["reason"]


def test_a_selection_carries_no_reason(capsys):
    main(["resolve", "--tags", "1.0.0,2.0.0"])

    assert "reason" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            '{"auths": {"127.0.0.1:1": {"registrytoken": "x"}}}',
            "--docker-config {path}: the file's entry for 127.0.0.1:1 has only a registrytoken",
            id="registrytoken",
        ),
        pytest.param("{bad", "--docker-config {path}: the file is not valid JSON", id="json"),
    ],
)
def test_docker_config_problems_speak_of_the_flag_not_a_secret(tmp_path, capsys, content, message):
    path = tmp_path / "config.json"
    path.write_text(content)

    code = main(["resolve", "127.0.0.1:1/x", "--docker-config", str(path)])

    err = capsys.readouterr().err
    assert 2 == code
    assert message.format(path=path) in err
    assert "Secret" not in err


def test_registry_messages_name_flags_not_spec_fields():
    from werfop.live_resolve import cli_words

    assert "unset --insecure" in cli_words("for plain HTTP; unset spec.registry.insecure")
    assert "in --ca-file" in cli_words(
        "that signed it in the Secret named by spec.registry.caSecretRef"
    )
    assert "check REPOSITORY" in cli_words("check spec.registry.url")
