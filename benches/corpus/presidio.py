#!/usr/bin/env python3
"""Runs Presidio's pattern recognizers over the detector corpus and writes their detections as JSON.

Presidio setup (the comparison the issue asks for: its pattern recognizers, no NER model):
- NLP engine: `SpacyNlpEngine` whose `load` builds `spacy.blank("en")` (a tokenizer only: no
  tagger, lemmatizer or NER). `NlpEngineProvider` cannot do that in this version: with a model name
  such as `blank:en` it calls `spacy.cli.download` first, which needs the network; so the engine is
  subclassed here.
- Recognizers: Presidio's predefined recognizers for English (`load_predefined_recognizers`, its
  default configuration), without `SpacyRecognizer` (NER: it finds nothing with a blank model
  anyway), plus `UkNinoRecognizer`, which the default configuration disables but which is one of
  Presidio's pattern recognizers and the counterpart of Warden's `UK_NINO`.
- `analyze(text, language="en", entities=ENTITY_MAP keys)`: only the entities that have a Warden
  counterpart are asked for (Presidio's `DATE_TIME`, `URL`, `US_BANK_NUMBER`,
  `US_DRIVER_LICENSE`, … would otherwise flag look-alikes for types Warden does not claim to
  detect). Score threshold: Presidio's default (0, every result kept), as an anonymizer called with
  the analyzer's results would use them. Context words cannot raise scores (the blank model has no
  lemmas), which does not matter at threshold 0. Overlapping results are reduced as
  presidio-anonymizer reduces them before replacing: a result inside (or equal to) another with a
  higher score (or an equal score and a longer span) is dropped.
- The e-mail recognizer's TLD check uses the public suffix list snapshot tldextract ships (no
  network).
- Throughput: wall time of the `analyze` calls only (engine built and warmed up before), over the
  UTF-8 bytes of every text, in MB/s (10^6 bytes).

Output (`--out`, default `benches/results/presidio-detections.json`): the corpus file's SHA-256,
the run (versions, setup, entity map, throughput) and per item id the results `{start, end, entity,
detector, score}` (code point offsets, as Presidio reports them). `detector-corpus --presidio FILE`
scores them exactly as it scores Warden.

Usage: presidio.py [--corpus PATH] [--out PATH]
"""

import argparse
import hashlib
import json
import logging
import sys
import time
from importlib.metadata import version
from pathlib import Path

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

# The e-mail recognizer checks TLDs with `tldextract.extract`, which fetches the public suffix list
# over the network first; use the snapshot tldextract ships (no network, same answer every run).
tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())

# Presidio entity -> Warden detector. Presidio has no secret recognizers: every secret leaks.
ENTITY_MAP = {
    "CREDIT_CARD": "CREDIT_CARD",
    "US_SSN": "US_SSN",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "US_ITIN": "US_ITIN",
    "UK_NHS": "UK_NHS",
    "IBAN_CODE": "IBAN_CODE",
    "UK_NINO": "UK_NINO",
    "US_PASSPORT": "US_PASSPORT",
    "CRYPTO": "CRYPTO_WALLET",
    "IP_ADDRESS": "IP_ADDRESS",
    "MAC_ADDRESS": "MAC_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
}

SETUP = ("NLP engine `SpacyNlpEngine` loading `spacy.blank(\"en\")` (no NER); the predefined English "
         "recognizers without `SpacyRecognizer`, plus `UkNinoRecognizer` (disabled by default); "
         "entities restricted to those mapped to Warden detectors; score threshold 0 (Presidio's default); "
         "a result inside another of higher score dropped (as presidio-anonymizer does).")


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """A spaCy engine on a blank English pipeline: tokens only, nothing downloaded."""

    def load(self):
        self.nlp = {"en": spacy.blank("en")}


def analyzer():
    engine = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    registry.remove_recognizer("SpacyRecognizer")
    registry.add_recognizer(UkNinoRecognizer())
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])


def without_conflicts(results):
    """Drops each result whose span lies inside (or equals) the span of a result with a higher score,
    or of an equal score and longer (or equal and listed first), as presidio-anonymizer does before
    it replaces anything: one label per masked span."""
    ranked = sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.entity_type))
    kept = []
    for r in ranked:
        if not any(k.start <= r.start and r.end <= k.end for k in kept):
            kept.append(r)
    return kept


def main():
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=here / "corpus.jsonl")
    parser.add_argument("--out", type=Path,
                        default=here.parent / "results" / "presidio-detections.json")
    args = parser.parse_args()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    raw = args.corpus.read_bytes()
    items = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    engine = analyzer()
    entities = sorted(ENTITY_MAP)
    for item in items[:20]:
        engine.analyze(item["text"], language="en", entities=entities)
    detections = {}
    elapsed = 0.0
    for item in items:
        started = time.perf_counter()
        results = engine.analyze(item["text"], language="en", entities=entities)
        elapsed += time.perf_counter() - started
        detections[item["id"]] = [
            {"start": r.start, "end": r.end, "entity": r.entity_type,
             "detector": ENTITY_MAP[r.entity_type], "score": round(r.score, 4)}
            for r in sorted(without_conflicts(results), key=lambda r: (r.start, r.end, r.entity_type))
        ]
    size = sum(len(item["text"].encode("utf-8")) for item in items)
    out = {
        "corpus_sha256": hashlib.sha256(raw).hexdigest(),
        "run": {
            "presidio_analyzer": version("presidio-analyzer"),
            "spacy": version("spacy"),
            "setup": SETUP,
            "entity_map": ENTITY_MAP,
            "bytes": size,
            "seconds": round(elapsed, 3),
            "throughput_mb_s": round(size / elapsed / 1e6, 4),
        },
        "items": detections,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"presidio: {len(items)} items, {size} bytes in {elapsed:.2f} s "
          f"({size / elapsed / 1e6:.4f} MB/s) -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
