"""The safe YAML/JSON loader: YAML 1.1 surprises, duplicates, bombs, depth, encodings."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyscope.errors import KeysFileError, SpecError
from keyscope.sources import yamlsafe
from keyscope.sources.yamlsafe import load_document, parse_document


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


# --------------------------------------------------------------------------- scalars


@pytest.mark.parametrize(
    "text",
    [
        "on",
        "off",
        "yes",
        "no",
        "NO",
        "Yes",
        "y",
        "n",
        "12:30",
        "0777",
        "1.10",
        "2024-01-02",
        "2024-01-02T10:00:00Z",
        "0x1f",
        "0o17",
        "1_000",
        ".inf",
        "-.inf",
        ".nan",
        "1e3",
        "+1",
        "-0",
        "1.",
    ],
)
def test_yaml_1_1_lookalikes_stay_the_written_text(text: str) -> None:
    assert parse_document(f"value: {text}\n", "t.yaml") == {"value": text}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30", 30),
        ("-2", -2),
        ("0", 0),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("true", True),
        ("False", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("'on'", "on"),
        ('"30"', "30"),
    ],
)
def test_canonical_values_resolve(text: str, expected: object) -> None:
    result = parse_document(f"value: {text}\n", "t.yaml")["value"]
    assert result == expected
    assert type(result) is type(expected)


def test_explicit_core_tags_are_honoured() -> None:
    document = parse_document(
        "a: !!str 123\nb: !!int '12'\nc: !!float '2'\nd: !!bool 'true'\ne: ! 7\n", "t.yaml"
    )
    assert document == {"a": "123", "b": 12, "c": 2.0, "d": True, "e": "7"}


@pytest.mark.parametrize(
    "text",
    ["a: !!python/object:os.system x\n", "a: !custom x\n", "a: !!binary aGk=\n", "a: !!set {x}\n"],
)
def test_unknown_tags_are_rejected_with_a_place(text: str) -> None:
    with pytest.raises(SpecError, match="unsupported YAML tag") as caught:
        parse_document(text, "t.yaml")
    assert caught.value.place == "1:4"


def test_invalid_tagged_value_is_rejected() -> None:
    with pytest.raises(SpecError, match="not a valid !!int"):
        parse_document("a: !!int twelve\n", "t.yaml")


# --------------------------------------------------------------------------- keys


def test_duplicate_yaml_key_names_both_lines() -> None:
    with pytest.raises(SpecError) as caught:
        parse_document("paths:\n  /a: {}\n  /b: {}\n  /a: {}\n", "spec.yaml")
    error = caught.value
    assert "duplicate key '/a' (first at line 2, again at line 4)" in str(error)
    assert error.place == "4:3"
    assert str(error).startswith("spec.yaml:4:3: ")


def test_duplicate_json_key_names_both_lines() -> None:
    text = '{\n  "scopes": {\n    "invoices:read": "x",\n    "invoices:read": "y"\n  }\n}\n'
    with pytest.raises(SpecError) as caught:
        parse_document(text, "spec.json", json_only=True)
    assert "duplicate key 'invoices:read' (first at line 3, again at line 4)" in caught.value.detail


def test_same_key_in_different_mappings_is_fine() -> None:
    assert parse_document("a: {x: 1}\nb: {x: 2}\n", "t.yaml") == {"a": {"x": 1}, "b": {"x": 2}}
    assert parse_document('{"a": {"x": 1}, "b": {"x": 2}}', "t.json") == {
        "a": {"x": 1},
        "b": {"x": 2},
    }


def test_whole_number_keys_keep_their_text() -> None:
    document = parse_document(
        "responses:\n  200: {description: ok}\n  '404': {description: missing}\n", "t.yaml"
    )
    assert document == {
        "responses": {"200": {"description": "ok"}, "404": {"description": "missing"}}
    }


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("1: a\ntrue: b\n", "bool"),
        ("~: a\n", "null"),
        ("1.5: a\n", "float"),
        ("yes: a\nno: b\n", None),
    ],
)
def test_non_string_keys_are_rejected(text: str, kind: str | None) -> None:
    if kind is None:  # yes/no are plain strings here, so they are fine keys
        assert parse_document(text, "t.yaml") == {"yes": "a", "no": "b"}
        return
    with pytest.raises(SpecError, match=f"read as {kind}, not a string; quote it"):
        parse_document(text, "t.yaml")


def test_collection_and_alias_keys_are_rejected() -> None:
    with pytest.raises(SpecError, match="keys must be strings, not collections") as caught:
        parse_document("? [a, b]\n: value\n", "t.yaml")
    assert caught.value.place == "1:3"
    with pytest.raises(SpecError, match="not aliases"):
        parse_document("a: &k key\n*k : value\n", "t.yaml")


# --------------------------------------------------------------------------- aliases


@pytest.mark.timeout(10)
def test_billion_laughs_fails_fast() -> None:
    assert len(BILLION_LAUGHS.encode()) < 700
    started = time.perf_counter()
    with pytest.raises(SpecError, match="alias bomb"):
        parse_document(BILLION_LAUGHS, "bomb.yaml")
    assert time.perf_counter() - started < 2


def test_alias_count_is_capped() -> None:
    text = "a: &x 1\nb: [*x, *x, *x, *x]\n"
    assert parse_document(text, "t.yaml") == {"a": 1, "b": [1, 1, 1, 1]}
    with pytest.raises(SpecError, match="more than 3 aliases"):
        parse_document(text, "t.yaml", max_aliases=3)


@pytest.mark.timeout(10)
def test_self_referential_alias_is_a_cycle_error() -> None:
    with pytest.raises(SpecError, match=r"alias \*x refers to a node that contains it") as caught:
        parse_document("a: &x [*x]\n", "t.yaml")
    assert caught.value.place == "1:8"


def test_undefined_alias_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"alias \*nope refers to no anchor"):
        parse_document("a: *nope\n", "t.yaml")


def test_ordinary_anchors_and_merge_keys_work() -> None:
    text = (
        "base: &base {x: 1, y: 2}\nother: &o {z: 0}\n"
        "use:\n  <<: [*base, *o]\n  y: 3\nagain: *base\n"
    )
    document = parse_document(text, "t.yaml")
    assert document["use"] == {"x": 1, "y": 3, "z": 0}
    assert document["again"] == {"x": 1, "y": 2}


def test_merge_of_a_scalar_is_rejected() -> None:
    with pytest.raises(SpecError, match="merge key"):
        parse_document("a: &s text\nb:\n  <<: *s\n", "t.yaml")


# --------------------------------------------------------------------------- depth


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("brackets.yaml", "[" * 20000),
        ("brackets.json", "[" * 20000),
        ("objects.json", '{"a":' * 100000),
        ("objects.yaml", '{"a":' * 100000),
        ("block.yaml", "- " * 100000 + "x\n"),
        ("closed.json", "[" * 5000 + "]" * 5000),
    ],
)
def test_deep_nesting_is_an_input_error_not_a_recursion_error(
    tmp_path: Path, name: str, text: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(SpecError) as caught:
        load_document(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "nest" in message
    assert "\n" not in message


def test_nesting_beyond_our_limit_but_within_libyaml_is_refused() -> None:
    depth = yamlsafe.DEFAULT_MAX_DEPTH + 50
    with pytest.raises(SpecError, match=f"nested more than {yamlsafe.DEFAULT_MAX_DEPTH} levels"):
        parse_document("x: " + "[" * depth + "]" * depth + "\n", "t.yaml")


def test_moderate_nesting_is_fine() -> None:
    assert parse_document("[" * 100 + "]" * 100, "t.yaml") is not None


# --------------------------------------------------------------------------- bytes and documents


def test_byte_cap(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", "a: " + "x" * 200 + "\n")
    with pytest.raises(SpecError, match="larger than the 100-byte limit"):
        load_document(path, max_bytes=100)
    assert load_document(path, max_bytes=1000) == {"a": "x" * 200}


@pytest.mark.parametrize("name", ["bom.yaml", "bom.json"])
def test_byte_order_mark_is_accepted(tmp_path: Path, name: str) -> None:
    content = '{"a": 1}' if name.endswith(".json") else "a: 1\n"
    path = write(tmp_path, name, b"\xef\xbb\xbf" + content.encode())
    assert load_document(path) == {"a": 1}


def test_invalid_utf8_is_reported_with_byte_offset(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", b"a: 1\nb: caf\xe9\n")
    with pytest.raises(SpecError) as caught:
        load_document(path)
    assert "byte offset 11" in caught.value.detail  # 5 bytes of line 1, then "b: caf"
    assert caught.value.place == "2:7"


def test_multi_document_yaml_is_rejected_with_place() -> None:
    with pytest.raises(SpecError, match="more than one YAML document") as caught:
        parse_document("a: 1\n---\nb: 2\n", "t.yaml")
    assert caught.value.place == "2:1"


def test_single_explicit_document_is_fine() -> None:
    assert parse_document("---\na: 1\n...\n", "t.yaml") == {"a": 1}


@pytest.mark.parametrize("content", ["", "   \n", "# only a comment\n"])
def test_empty_file_is_an_error(content: str) -> None:
    with pytest.raises(SpecError, match="empty"):
        parse_document(content, "t.yaml")


def test_tab_indentation_is_a_located_error() -> None:
    with pytest.raises(SpecError, match="not valid YAML") as caught:
        parse_document("a:\n\tb: 1\n", "t.yaml")
    assert caught.value.place == "2:1"


def test_malformed_yaml_is_one_located_line() -> None:
    with pytest.raises(SpecError) as caught:
        parse_document("a: [1, 2\nb: 3\n", "spec.yaml")
    assert caught.value.place
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_are_rejected(constant: str) -> None:
    with pytest.raises(SpecError, match=f"{constant} is not a JSON number") as caught:
        parse_document('{"a": 1,\n "b": ' + constant + "}", "t.json", json_only=True)
    assert caught.value.place.startswith("2:")


def test_json_nan_inside_a_string_is_just_text() -> None:
    assert parse_document('{"a": "NaN"}', "t.json", json_only=True) == {"a": "NaN"}


def test_json_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "spec.json", '{\n  "a": 1,\n  "b": \n}\n')
    with pytest.raises(SpecError, match="not valid JSON") as caught:
        load_document(path)
    assert caught.value.place == "4:1"


def test_json_looking_yaml_flow_falls_back_to_yaml() -> None:
    assert parse_document("{a: 1, b: [x, on]}", "t.yaml") == {"a": 1, "b": ["x", "on"]}


def test_json_numbers_stay_numbers() -> None:
    assert parse_document('{"v": 1.10, "n": 12}', "t.json") == {"v": 1.1, "n": 12}


def test_error_class_is_the_callers(tmp_path: Path) -> None:
    path = write(tmp_path, "keys.yaml", "a: 1\na: 2\n")
    with pytest.raises(KeysFileError):
        load_document(path, error=KeysFileError)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_document(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="folder"):
        load_document(tmp_path)


def test_pure_python_parser_gives_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: [on, 1.10, 30]\nb: &x {c: d}\ne: *x\n"
    with_libyaml = parse_document(text, "t.yaml")
    monkeypatch.setattr(yamlsafe, "LIBYAML", False)
    assert parse_document(text, "t.yaml") == with_libyaml
    with pytest.raises(SpecError, match="duplicate key 'a'"):
        parse_document("a: 1\na: 2\n", "t.yaml")
    with pytest.raises(SpecError, match="alias bomb"):
        parse_document(BILLION_LAUGHS, "bomb.yaml")


# --------------------------------------------------------------------------- properties

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
)
_documents = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_round_trip_of_plain_data(document: object) -> None:
    """What PyYAML and json write, we read back unchanged (strings stay strings)."""
    assert parse_document(json.dumps(document), "t.json", json_only=True) == document
    assert parse_document(yaml.safe_dump(document), "t.yaml") == document
