"""A tiny but real `.argosmodel` for offline tests.

The package is what argostranslate installs from its index, only minute: a sentencepiece
unigram model trained on a few lines, a CTranslate2 Transformer (1 layer, 2 heads, d_model 8)
written with CTranslate2's spec API from small random weights, and `metadata.json`, zipped under
one top folder. Its output is gibberish; it exists to exercise the real plumbing
(package -> sentencepiece -> CTranslate2 -> detokenize). Built deterministically (fixed seeds).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

D_MODEL = 8
FFN = 16
NUM_HEADS = 2
POSITIONS = 1024  # must cover the longest decode (see the notes on position encodings)
SPECIALS = ["<blank>", "<s>", "</s>", "<unk>"]

_LINES = [
    "Hello, my son is sick today.",
    "My daughter will be late this morning.",
    "What time does school start?",
    "School starts at eight in the morning.",
    "When is the next parent meeting?",
    "The bus is late again.",
    "Can I talk to the teacher?",
    "Please call the office.",
    "Where is the lunch menu?",
    "Is there school on Friday?",
    "Thank you very much.",
    "My child lost a jacket.",
    "How do I pay for lunch?",
    "The library is open until four.",
    "We need a form for the field trip.",
    "Report cards come out next week.",
    "Pick up is at three in the afternoon.",
    "The nurse will call you back.",
    "Please bring a water bottle.",
    "Homework is due on Monday.",
    "Hola, mi hijo esta enfermo hoy.",
    "Mi hija va a llegar tarde.",
    "A que hora empieza la escuela?",
    "La escuela empieza a las ocho.",
    "Cuando es la reunion de padres?",
    "El autobus llega tarde otra vez.",
    "Puedo hablar con la maestra?",
    "Por favor llame a la oficina.",
    "Donde esta el menu del almuerzo?",
    "Hay clases el viernes?",
    "Muchas gracias por su ayuda.",
    "Mi nino perdio una chaqueta.",
    "Como pago el almuerzo?",
    "La biblioteca abre hasta las cuatro.",
    "Necesitamos un formulario para la excursion.",
    "Bonjour, mon fils est malade.",
    "Ma fille sera en retard ce matin.",
    "A quelle heure commence l'ecole?",
    "Merci beaucoup pour votre aide.",
    "Le bus est encore en retard.",
    "Visit https://example.org/calendar for dates.",
    "Write to office@example.org with questions.",
    "Call (951) 555-0142 or 951-555-0142 today.",
    "Classes begin at 8:10 AM and end at 14:30.",
    "The holiday is on 2026-11-26 and 11/26/2026.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.",
    "the quick brown fox jumps over the lazy dog.",
    "Zebras quietly vexed jumpy wizards at six.",
    "Jack and Kim quiz Val about Xavier and Yolanda.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 20 30 42 99",
    "Numbers: 5678, 9012, 3456, 7890.",
    "Questions? Answers! Yes; no: maybe - sure.",
    "The PTA meets in the gym.",
    "Title I funds help our students.",
    "Log in to ParentVUE to see grades.",
    "Riverside Elementary welcomes every family.",
    "Your child was absent on Tuesday.",
    "Please sign and return the permission slip.",
    "Conferences are next Thursday evening.",
    "The art show is in the hallway.",
    "Winter break starts in December.",
    "Spring pictures are on Wednesday.",
    "The cafeteria serves breakfast too.",
    "Kindergarten registration is open.",
    "We miss your child in class.",
    "Remember to bring a jacket tomorrow.",
    "Practice ends at five thirty.",
    "The office closes at four.",
    "Grades are posted online.",
    "Vaccination records are needed.",
    "Please update your phone number.",
    "Dismissal is early on Wednesday.",
    "Thanks for letting us know.",
    "Have a good weekend.",
    "See you on Monday.",
    "Good morning, everyone.",
    "Good night and take care.",
    "Our school is a safe place.",
    "Books are due back on Friday.",
    "The teacher sent a note home.",
]


def build_tiny_argosmodel(workdir: Path, from_code: str = "en", to_code: str = "es") -> Path:
    """Build `<workdir>/translate-<from>_<to>.argosmodel` and return its path (rebuilt only if missing)."""
    import numpy as np
    import sentencepiece as spm
    from ctranslate2.specs import transformer_spec

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"translate-{from_code}_{to_code}"
    out = workdir / f"{name}.argosmodel"
    if out.exists():
        return out
    build = workdir / f"{name}.build"
    if build.exists():
        shutil.rmtree(build)
    pkg = build / name  # the zip's single top folder
    (pkg / "model").mkdir(parents=True)

    # sentencepiece: a unigram model, deterministic (fixed seed, one thread, no shuffling).
    corpus = build / "corpus.txt"
    corpus.write_text("\n".join(_LINES) + "\n", encoding="utf-8")
    spm.set_random_generator_seed(1234)
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(build / "sp"), vocab_size=120, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, num_threads=1, seed_sentencepiece_size=10000,
        shuffle_input_sentence=False, minloglevel=2,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
    )
    shutil.copy(build / "sp.model", pkg / "sentencepiece.model")
    sp = spm.SentencePieceProcessor(model_file=str(pkg / "sentencepiece.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab = SPECIALS + [p for p in pieces if p not in SPECIALS]

    # CTranslate2: a 1-layer Transformer with small random float32 weights.
    rng = np.random.default_rng(_seed(from_code, to_code))
    V, D, F = len(vocab), D_MODEL, FFN

    def w(*shape: int) -> "np.ndarray":
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)

    def norm(ln) -> None:
        ln.gamma = np.ones(D, dtype=np.float32)
        ln.beta = np.zeros(D, dtype=np.float32)

    spec = transformer_spec.TransformerSpec.from_config(num_layers=1, num_heads=NUM_HEADS)
    enc, dec = spec.encoder, spec.decoder
    enc.embeddings[0].weight = w(V, D)
    dec.embeddings.weight = w(V, D)
    positions = _sinusoids(POSITIONS, D)
    enc.position_encodings.encodings = positions
    dec.position_encodings.encodings = positions.copy()
    for stack in (enc, dec):
        norm(stack.layer_norm)
        for layer in stack.layer:
            norm(layer.self_attention.layer_norm)
            layer.self_attention.linear[0].weight = w(3 * D, D)  # fused QKV
            layer.self_attention.linear[1].weight = w(D, D)
            norm(layer.ffn.layer_norm)
            layer.ffn.linear_0.weight = w(F, D)
            layer.ffn.linear_1.weight = w(D, F)
    for layer in dec.layer:
        norm(layer.attention.layer_norm)
        layer.attention.linear[0].weight = w(D, D)       # query
        layer.attention.linear[1].weight = w(2 * D, D)   # fused key/value over the encoder output
        layer.attention.linear[2].weight = w(D, D)
    dec.projection.weight = w(V, D)
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.save(str(pkg / "model"))

    metadata = {
        "package_version": "0.1",
        "argos_version": "1.9",
        "from_code": from_code,
        "from_name": from_code,
        "to_code": to_code,
        "to_name": to_code,
        "name": f"Tiny test model {from_code}->{to_code}",
        "type": "translate",
        "links": [],
    }
    (pkg / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    (pkg / "README.md").write_text("Random weights, for tests only.\n", encoding="utf-8")

    tmp = out.with_suffix(".partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in pkg.rglob("*") if p.is_file()):
            # Fixed timestamps so the same inputs give the same bytes.
            info = zipfile.ZipInfo(path.relative_to(build).as_posix(), date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(out)
    shutil.rmtree(build)
    return out


def _seed(from_code: str, to_code: str) -> int:
    """A seed that is the same in every process (unlike hash(), which is salted)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(f"{from_code}>{to_code}")) + 20261126


def _sinusoids(positions: int, depth: int):
    import numpy as np

    pos = np.arange(positions, dtype=np.float32)[:, None]
    inv = np.exp(-np.log(10000.0) * np.arange(0, depth, 2, dtype=np.float32) / depth)
    enc = np.zeros((positions, depth), dtype=np.float32)
    enc[:, 0::2] = np.sin(pos * inv)
    enc[:, 1::2] = np.cos(pos * inv)
    return enc
