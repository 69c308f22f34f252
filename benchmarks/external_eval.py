"""How Porter's classifier does on text nobody on the team wrote: `../shared/eval/external-dev/dev.jsonl`.

Measurement only: the set's sentences must never reach training data, so this prints numbers and intent
pairs, never the sentences themselves. In-scope accuracy counts a message right when the predicted intent is
its gold intent (or one of `also_ok`); off-topic rejection counts an `out_of_scope` gold message right when the
prediction is `out_of_scope` or `nlu_fallback` (the intents contract's rule).

    python benchmarks/external_eval.py [MODEL]      (default var/models/porter.tar.gz)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the model's custom components live in bot/
DEV_SET = ROOT.parent / "shared" / "eval" / "external-dev" / "dev.jsonl"
REJECTED = ("out_of_scope", "nlu_fallback")


def load(path: Path = DEV_SET) -> List[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def _parse(model: Path, texts: List[str]) -> List[dict]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def score(model: Path, path: Path = DEV_SET) -> Dict[str, object]:
    rows = load(path)
    parsed = asyncio.run(_parse(model, [row["text"] for row in rows]))
    inscope_right = inscope_n = offtopic_right = offtopic_n = 0
    per_intent: Dict[str, Counter] = {}
    confusions: Counter = Counter()
    confident_errors = errors = 0
    for row, result in zip(rows, parsed):
        gold, predicted = row["gold"], result["intent"]["name"]
        confidence = result["intent"].get("confidence") or 0.0
        counts = per_intent.setdefault(gold, Counter())
        counts["n"] += 1
        if gold == "out_of_scope":
            right = predicted in REJECTED
            offtopic_n += 1
            offtopic_right += right
        else:
            right = predicted == gold or predicted in (row.get("also_ok") or [])
            inscope_n += 1
            inscope_right += right
        counts["right"] += right
        if not right:
            errors += 1
            confident_errors += confidence >= 0.9
            confusions[(gold, "out_of_scope" if predicted == "nlu_fallback" else predicted)] += 1
    return {
        "n": len(rows),
        "inscope": inscope_right / inscope_n,
        "inscope_n": inscope_n,
        "offtopic": offtopic_right / offtopic_n,
        "offtopic_n": offtopic_n,
        "per_intent": {k: (v["right"] / v["n"], v["n"]) for k, v in sorted(per_intent.items())},
        "confusions": confusions.most_common(15),
        "confident_error_share": confident_errors / errors if errors else 0.0,
    }


def markdown(result: Dict[str, object]) -> str:
    lines = [
        "## External development set (public third-party English messages, measurement only)",
        "",
        f"{result['n']} messages from `shared/eval/external-dev` (never trained on).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| in-scope accuracy ({result['inscope_n']}) | {result['inscope']:.3f} |",
        f"| off-topic rejected ({result['offtopic_n']}) | {result['offtopic']:.3f} |",
        f"| wrong answers with confidence ≥ 0.9 | {result['confident_error_share']:.2f} |",
        "",
        "| gold intent | n | accuracy |",
        "|---|---|---|",
    ]
    for intent, (accuracy, n) in result["per_intent"].items():
        lines.append(f"| {intent} | {n} | {accuracy:.3f} |")
    lines += ["", "Main confusions (gold → predicted: count):", ""]
    lines += [f"- {gold} → {predicted}: {count}" for (gold, predicted), count in result["confusions"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(ROOT / "var" / "models" / "porter.tar.gz"))
    args = parser.parse_args()
    if not DEV_SET.exists():
        print(f"error: {DEV_SET} is missing (it lives beside this repository, in shared/eval)", file=sys.stderr)
        return 2
    print(markdown(score(Path(args.model))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
