"""Chunking: pieces cut at headings carry their heading path, which is indexed with their text."""

from __future__ import annotations

from copilot.chunking import CAP, split_markdown
from copilot.index import indexed_text

DOC = """# Proximal Policy Optimization

Intro paragraph.

## PPO: the clipped objective

The ratio is clipped to [1 - eps, 1 + eps].

### Value clipping

The value prediction is clipped around the old one.

## PPO: pitfalls

""" + ("A long pitfall sentence about learning rates. " * 60)


def test_pieces_are_cut_at_headings_and_titled_by_heading_path():
    pieces = split_markdown(DOC, "ppo")
    titles = [p.title for p in pieces]
    assert titles[:3] == ["Proximal Policy Optimization",
                          "Proximal Policy Optimization > PPO: the clipped objective",
                          "Proximal Policy Optimization > PPO: the clipped objective > Value clipping"]
    assert [p.heading for p in pieces[:3]] == ["Proximal Policy Optimization", "PPO: the clipped objective",
                                               "Value clipping"]
    assert "clipped to [1 - eps" in pieces[1].text and "Value clipping" not in pieces[1].text
    pitfalls = [p for p in pieces if p.heading == "PPO: pitfalls"]
    assert len(pitfalls) >= 2 and all(len(p.text) <= CAP for p in pitfalls)  # long sections split, same path


def test_heading_path_is_part_of_the_indexed_text():
    piece = split_markdown(DOC, "ppo")[2]
    text = indexed_text(piece.title, piece.text)
    assert text.startswith("Proximal Policy Optimization > PPO: the clipped objective > Value clipping\n")
    assert text.endswith(piece.text)


def test_a_document_without_a_top_heading_is_titled_by_its_name():
    pieces = split_markdown("Loose text.\n\n## Section\n\nBody.", "notes")
    assert [p.title for p in pieces] == ["notes", "notes > Section"]


def test_a_long_numbered_list_keeps_each_item_on_its_own_line():
    from copilot.evidence import split_units

    items = "\n".join(f"{i}. Step {i} of the checklist says something long enough to read. "
                      f"It adds a second sentence about step {i}." for i in range(1, 16))
    pieces = split_markdown(f"# Checklist\n\n## Steps\n\nCheck these, in order:\n\n{items}\n", "steps")
    text = "\n".join(p.text for p in pieces)
    assert len(items) > CAP  # long enough to be cut
    assert "\n2. Step 2" in text and "read. 2." not in text
    units = [u for p in pieces for u in split_units(p.text)]
    # no sentence ends with the next item's number
    assert not any(u.rstrip().endswith(("2.", "3.", "10.")) for u in units if "Step" in u)


def test_a_table_is_cut_between_rows_each_part_under_its_header_and_never_carried_over():
    from copilot.evidence import split_units

    rows = "\n".join(f"| `field_{i}` | `{i}` | what field number {i} sets in the agent's config |" for i in range(40))
    table = f"| argument | default | meaning |\n| --- | --- | --- |\n{rows}"
    pieces = split_markdown(f"# Config\n\n## Shared arguments\n\nEvery part takes these:\n\n{table}\n\n"
                            "A closing paragraph on how the arguments combine.\n", "config")
    assert len(table) > CAP and len(pieces) >= 3
    tables = [p.text for p in pieces if "`field_" in p.text]
    assert len(tables) >= 2 and all("| argument | default | meaning |" in t for t in tables)
    # every row is whole, and reads under its own column names
    units = [u for t in tables for u in split_units(t) if "field_" in u]
    assert len(units) == 40 and all(u.startswith("`field_") and ": default `" in u for u in units)
    # no piece begins with a piece of a row carried over from the one before
    assert all(p.text.startswith(("Every part", "| argument |", "A closing")) for p in pieces)
