"""Copy the latest tables from bench/results/ into the README's Benchmarks section.

    python bench/update_readme.py
"""

from pathlib import Path

ROOT = Path(__file__).parent.parent
MARKER = "<!-- bench:tables -->"
ORDER = [("copy.md", "copy and jobs ls"), ("move.md", "move"), ("latency.md", "latency"), ("index.md", "index"), ("dupes.md", "dupes"),
         ("validate.md", "validate"), ("thumbs.md", "thumbs"), ("dash.md", "dashboard"), ("hosts.md", "hosts")]


DETAILS = "<!-- details -->"  # in a results file: what follows stays there (how it was measured, where the time goes)


def _tables(text: str) -> str:
    """A results file up to its DETAILS marker, if it has one: the README keeps the tables."""
    return text.split(DETAILS)[0]


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    head = text.split(MARKER)[0] if MARKER in text else text.rstrip() + "\n\n"
    parts = [head.rstrip() + "\n\n" + MARKER + "\n"]
    for name, title in ORDER:
        path = ROOT / "bench" / "results" / name
        if path.exists():
            body = _tables(path.read_text()).strip()
            if not body.startswith("#"):
                body = f"### {title}\n\n{body}"
            parts.append(f"\n{body}\n\n(from `bench/results/{name}`)\n")
    readme.write_text("".join(parts))


if __name__ == "__main__":
    main()
