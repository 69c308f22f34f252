"""`make eval`: how well Porter understands each language, in numbers, beside Rasa's default pipeline.

Trains both pipelines on data/nlu, scores them on the held-out sets in tests/nlu (never trained on), measures
language identification on tests/langid, and writes var/eval/report.md with a confusion matrix per language.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.languages import supported_languages  # noqa: E402

LANGUAGES = supported_languages()
IDENTIFIER_ENTITIES = {"order_number", "email", "phone", "tracking_number"}
ANNOTATION = re.compile(r"\[([^\]]+)\]\(([a-z_]+)\)")


def heldout(language: str, kind: str = "heldout") -> List[Tuple[str, str, List[Tuple[str, str]]]]:
    """(text, intent, [(entity, value)]) for every example of one held-out set of one language: `heldout`
    (every intent) or `realistic` (a greeting before the problem, or identifiers inside it)."""
    data = yaml.safe_load((ROOT / "tests" / "nlu" / f"{kind}_{language}.yml").read_text(encoding="utf-8"))
    examples = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                raw = line[2:]
                entities = [(name, value) for value, name in ANNOTATION.findall(raw)]
                examples.append((ANNOTATION.sub(r"\1", raw), block["intent"], entities))
    return examples


def training_texts() -> set:
    """Every training example, lowercased, to report accuracy on held-out messages never seen in training."""
    texts = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            for line in block.get("examples", "").splitlines():
                if line.strip().startswith("- "):
                    texts.add(ANNOTATION.sub(r"\1", line.strip()[2:]).strip().lower())
    return texts


def train(config: Path, name: str, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rasa",
            "train",
            "nlu",
            "--config",
            str(config),
            "--nlu",
            "data/nlu",
            "--out",
            str(out),
            "--fixed-model-name",
            name,
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


_agents: Dict[str, object] = {}


async def _parse_all(model: Path, texts: List[str]) -> List[dict]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level otherwise
    if str(model) not in _agents:
        _agents[str(model)] = Agent.load(str(model))
    agent = _agents[str(model)]
    return [await agent.parse_message(text) for text in texts]


def score(model: Path, out: Path, label: str, kind: str = "heldout") -> Dict[str, dict]:
    from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, f1_score
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = {}
    seen = training_texts()
    for language in LANGUAGES:
        examples = heldout(language, kind)
        started = time.perf_counter()
        parsed = asyncio.run(_parse_all(model, [text for text, _, _ in examples]))
        ms = (time.perf_counter() - started) / len(examples) * 1000
        gold = [intent for _, intent, _ in examples]
        predicted = [p["intent"]["name"] for p in parsed]
        predicted = ["out_of_scope" if p == "nlu_fallback" else p for p in predicted]  # the contract's rule
        true_pos = false_pos = false_neg = 0
        for (_, _, expected), p in zip(examples, parsed):
            found = [(e["entity"], e["value"]) for e in p.get("entities", []) if e["entity"] in IDENTIFIER_ENTITIES]
            remaining = list(found)
            for item in expected:
                if item in remaining:
                    true_pos += 1
                    remaining.remove(item)
                else:
                    false_neg += 1
            false_pos += len(remaining)
        unseen = [g == p for (text, _, _), g, p in zip(examples, gold, predicted) if text.strip().lower() not in seen]
        labels = sorted(set(gold))
        figure, axis = plt.subplots(figsize=(11, 11))
        ConfusionMatrixDisplay.from_predictions(
            gold, predicted, labels=labels, ax=axis, xticks_rotation="vertical", colorbar=False
        )
        axis.set_title(f"{label}: intents, {kind} {language}")
        figure.tight_layout()
        figure.savefig(out / f"confusion_{label}_{kind}_{language}.png", dpi=80)
        plt.close(figure)
        results[language] = {
            "n": len(examples),
            "accuracy": accuracy_score(gold, predicted),
            "unseen_n": len(unseen),
            "unseen_accuracy": sum(unseen) / len(unseen) if unseen else 0.0,
            "macro_f1": f1_score(gold, predicted, labels=labels, average="macro", zero_division=0),
            "entity_precision": true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0,
            "entity_recall": true_pos / (true_pos + false_neg) if true_pos + false_neg else 1.0,
            "ms_per_message": ms,
            "confidences": [(p["intent"]["confidence"], g == pr) for p, g, pr in zip(parsed, gold, predicted)],
        }
    return results


def langid_messages(language: str) -> Dict[str, List[str]]:
    """tests/langid/<language>.txt: its messages of 1-3 words ("short") and its longer ones ("sentence")."""
    lines = (ROOT / "tests" / "langid" / f"{language}.txt").read_text(encoding="utf-8").splitlines()
    split = lines.index("---")
    return {
        "short": [line for line in lines[:split] if line.strip()],
        "sentence": [line for line in lines[split + 1 :] if line.strip()],
    }


def language_id(backend: str, with_lexicon: bool) -> Dict[str, dict]:
    from bot.nlu.language_id import LanguageIdentifier, build_lexicon

    lexicon = build_lexicon(ROOT / "data" / "nlu", LANGUAGES) if with_lexicon else None
    identifier = LanguageIdentifier(LANGUAGES, backend, lexicon=lexicon)
    results = {}
    for language in LANGUAGES:
        groups = langid_messages(language)
        row = {}
        for group, texts in groups.items():
            started = time.perf_counter()
            detected = [identifier.detect(text).language for text in texts]
            row[f"{group}_ms"] = (time.perf_counter() - started) / len(texts) * 1000
            row[group] = sum(d == language for d in detected) / len(texts)
            row[f"{group}_n"] = len(texts)
        results[language] = row
    return results


def tests_nlu_messages() -> List[Tuple[str, str]]:
    """(language, text) for every message of tests/nlu's held-out and realistic sets."""
    return [
        (language, text)
        for language in LANGUAGES
        for kind in ("heldout", "realistic")
        for text, _, _ in heldout(language, kind)
    ]


def unsupported_gate() -> Dict[str, Tuple[int, int]]:
    """(called unsupported, messages): per watched language on tests/langid/unsupported.txt, and for the
    supported languages' messages of tests/langid and tests/nlu, which should never be called unsupported."""
    from bot.nlu.language_id import LanguageIdentifier, build_lexicon

    identifier = LanguageIdentifier(LANGUAGES, "lingua", lexicon=build_lexicon(ROOT / "data" / "nlu", LANGUAGES))
    texts: Dict[str, List[str]] = {}
    for line in (ROOT / "tests" / "langid" / "unsupported.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            code, text = line.split("\t", 1)
            texts.setdefault(code, []).append(text)
    supported = [text for language in LANGUAGES for group in langid_messages(language).values() for text in group]
    supported += [text for _, text in tests_nlu_messages()]
    texts["supported"] = supported
    return {
        group: (sum(identifier.detect(text).supported is False for text in group_texts), len(group_texts))
        for group, group_texts in texts.items()
    }


def reply_language_switches() -> Dict[str, Tuple[int, int, int]]:
    """(switches to the right language, switches to a wrong one, keeps the conversation's language) after each
    message, as Porter's pipeline decides (config.yml's LanguageDetector settings): per language for the
    1-3 word messages of tests/langid, then for the held-out sets and the external English set.

    This is what a shopper notices: a short word both languages' shoppers type ("si", "ok") keeps the
    conversation's language instead of switching it, which the identification table counts as wrong."""
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    from benchmarks import external_eval
    from bot.nlu.language_detector import LanguageDetector
    from bot.nlu.language_id import build_lexicon

    step = next(
        c for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"] if "LanguageDetector" in c["name"]
    )
    config = {**LanguageDetector.get_default_config(), **{k: v for k, v in step.items() if k != "name"}}
    detector = LanguageDetector(config, lexicon=build_lexicon(ROOT / "data" / "nlu", config["supported_languages"]))

    def counted(items: List[Tuple[str, str]]) -> Tuple[int, int, int]:
        right = wrong = 0
        for language, text in items:
            message = Message({TEXT: text})
            detector.process([message])
            switched = [e["value"] for e in message.get("entities", []) if e["entity"] == "language"]
            right += switched == [language]
            wrong += bool(switched) and switched != [language]
        return right, wrong, len(items) - right - wrong

    groups = {language: [(language, text) for text in langid_messages(language)["short"]] for language in LANGUAGES}
    groups["tests/nlu (held-out, realistic)"] = tests_nlu_messages()
    if external_eval.DEV_SET.exists():
        groups["external-dev (English)"] = [(row["lang"], row["text"]) for row in external_eval.load()]
    return {group: counted(items) for group, items in groups.items()}


def threshold_table(results: Dict[str, dict]) -> List[Tuple[float, float, float]]:
    """(threshold, share of messages below it, accuracy above it) over all languages."""
    pairs = [pair for row in results.values() for pair in row["confidences"]]
    table = []
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        above = [ok for confidence, ok in pairs if confidence >= threshold]
        below = [ok for confidence, ok in pairs if confidence < threshold]
        table.append(
            (
                threshold,
                len(below) / len(pairs),
                sum(above) / len(above) if above else 0.0,
                sum(below) / len(below) if below else float("nan"),
            )
        )
    return table


def write_report(
    out: Path,
    ours: dict,
    default: dict,
    times: dict,
    lid: dict,
    gate: Dict[str, Tuple[int, int]],
    switches: Dict[str, Tuple[int, int, int]],
) -> Path:
    lines = [
        "# Porter NLU evaluation",
        "",
        f"Held-out sets: tests/nlu (written separately, never trained on), {sum(r['n'] for r in ours.values())} "
        "messages. `nlu_fallback` counts as `out_of_scope`. Some short held-out messages ('bonjour', 'bye') also "
        "occur in the training data by coincidence; 'unseen only' leaves them out.",
        "",
        "## Intents and entities per language",
        "",
        "| language | n | accuracy | macro-F1 | accuracy, unseen only (n) | default accuracy | default macro-F1 | "
        "accuracy ratio | entity precision | entity recall | ms/message |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for language in LANGUAGES:
        o, d = ours[language], default[language]
        lines.append(
            f"| {language} | {o['n']} | {o['accuracy']:.3f} | {o['macro_f1']:.3f} | "
            f"{o['unseen_accuracy']:.3f} ({o['unseen_n']}) | {d['accuracy']:.3f} | "
            f"{d['macro_f1']:.3f} | {o['accuracy'] / d['accuracy']:.2f} | {o['entity_precision']:.3f} | "
            f"{o['entity_recall']:.3f} | {o['ms_per_message']:.1f} |"
        )
    lines += [
        "",
        "## Training time (NLU, this machine)",
        "",
        "| pipeline | seconds |",
        "|---|---|",
        f"| Porter (config.yml) | {times['ours']:.0f} |",
        f"| Rasa default (benchmarks/default_pipeline.yml) | {times['default']:.0f} |",
        f"| ratio | {times['ours'] / times['default']:.2f} |",
        "",
        "## Language identification (tests/langid)",
        "",
        "| detector | language | 1-3 words | sentences (4+ words) | ms/message |",
        "|---|---|---|---|---|",
    ]
    for backend, rows in lid.items():
        for language in LANGUAGES:
            r = rows[language]
            lines.append(
                f"| {backend} | {language} | {r['short']:.3f} | {r['sentence']:.3f} | "
                f"{(r['short_ms'] + r['sentence_ms']) / 2:.2f} |"
            )
        overall_short = sum(r["short"] * r["short_n"] for r in rows.values()) / sum(r["short_n"] for r in rows.values())
        overall_long = sum(r["sentence"] * r["sentence_n"] for r in rows.values()) / sum(
            r["sentence_n"] for r in rows.values()
        )
        lines.append(f"| {backend} | all | {overall_short:.3f} | {overall_long:.3f} | |")
    lines += [
        "",
        "## Languages Porter does not speak (tests/langid/unsupported.txt)",
        "",
        "Share of messages answered with the languages Porter speaks; `supported` is every message of "
        "tests/langid and tests/nlu, where it should be 0.",
        "",
        "| language | called unsupported | n |",
        "|---|---|---|",
    ]
    for group, (hits, n) in gate.items():
        lines.append(f"| {group} | {hits / n:.3f} | {n} |")
    lines += [
        "",
        "## The reply language after each message (what the shopper notices)",
        "",
        "Porter switches the conversation's language only on a confident detection (config.yml); otherwise it "
        "keeps the language it has. Per language: tests/langid's messages of 1-3 words.",
        "",
        "| messages | switch to the right language | switch to a wrong one | keep the conversation's |",
        "|---|---|---|---|",
    ]
    for group, (right, wrong, kept) in switches.items():
        lines.append(f"| {group} | {right} | {wrong} | {kept} |")
    lines += [
        "",
        "## Fallback threshold (Porter, all languages)",
        "",
        "| threshold | messages below | accuracy above | accuracy below |",
        "|---|---|---|---|",
    ]
    for threshold, share, above, below in threshold_table(ours):
        lines.append(f"| {threshold:.1f} | {share:.3f} | {above:.3f} | {below:.3f} |")
    lines += ["", "Confusion matrices: `confusion_<pipeline>_<language>.png` beside this report."]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def comparison_section(rows) -> str:
    lines = [
        "## Pipelines compared (same training data)",
        "",
        "| pipeline | NLU training, s | held-out mean (min) | realistic mean (min) | external in-scope | "
        "external off-topic |",
        "|---|---|---|---|---|---|",
    ]
    for name, seconds, held, real, external in rows:
        h = [r["accuracy"] for r in held.values()]
        r = [x["accuracy"] for x in real.values()]
        ext = f"{external['inscope']:.3f} | {external['offtopic']:.3f}" if external else "- | -"
        lines.append(
            f"| {name} | {seconds:.0f} | {sum(h) / len(h):.3f} ({min(h):.3f}) | "
            f"{sum(r) / len(r):.3f} ({min(r):.3f}) | {ext} |"
        )
    return "\n".join(lines) + "\n"


def realistic_section(results: Dict[str, dict]) -> str:
    lines = [
        "## Greeting + problem, problem + identifiers (tests/nlu/realistic_*.yml, target 0.95)",
        "",
        "| language | n | accuracy | macro-F1 |",
        "|---|---|---|---|",
    ]
    for language in LANGUAGES:
        r = results[language]
        lines.append(f"| {language} | {r['n']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "var" / "eval"))
    parser.add_argument("--skip-default", action="store_true", help="reuse the default pipeline's last results")
    parser.add_argument("--model", help="score this trained model instead of training config.yml first")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="CONFIG",
        help="also train and score this pipeline (e.g. benchmarks/diet_use_pipeline.yml)",
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from benchmarks import external_eval

    if args.model:
        model, times = Path(args.model), {"ours": float("nan")}
    else:
        model, times = out / "porter-nlu.tar.gz", {"ours": train(ROOT / "config.yml", "porter-nlu", out)}
    ours = score(model, out, "porter")
    realistic = score(model, out, "porter", kind="realistic")
    external = external_eval.score(model) if external_eval.DEV_SET.exists() else None
    cached = out / "default_results.json"
    if args.skip_default and cached.exists():
        saved = json.loads(cached.read_text())
        default, times["default"] = saved["results"], saved["seconds"]
    else:
        times["default"] = train(ROOT / "benchmarks" / "default_pipeline.yml", "default-nlu", out)
        default = score(out / "default-nlu.tar.gz", out, "default")
        cached.write_text(json.dumps({"results": default, "seconds": times["default"]}))
    lid = {
        f"{backend}{' + chat lexicon' if lexicon else ''}": language_id(backend, lexicon)
        for backend in ("lingua", "langdetect")
        for lexicon in (True, False)
    }
    report = write_report(out, ours, default, times, lid, unsupported_gate(), reply_language_switches())
    compared = [("Porter (config.yml)", times["ours"], ours, realistic, external)]
    for config in args.compare:
        name = Path(config).stem
        seconds = train(ROOT / config, name, out)
        scored = out / f"{name}.tar.gz"
        compared.append(
            (
                name,
                seconds,
                score(scored, out, name),
                score(scored, out, name, kind="realistic"),
                external_eval.score(scored) if external_eval.DEV_SET.exists() else None,
            )
        )
    extra = "\n" + realistic_section(realistic)
    if len(compared) > 1:
        extra += "\n" + comparison_section(compared)
    if external:
        extra += "\n" + external_eval.markdown(external)
    report.write_text(report.read_text(encoding="utf-8") + extra, encoding="utf-8")
    print(report.read_text())
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
