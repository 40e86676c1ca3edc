#!/usr/bin/env python3
"""Writes fuzz/corpus/<target>/: small valid and near-valid inputs for each fuzz target.

Run once after changing it (python3 fuzz/make-seeds.py); the files are committed, so neither CI nor the
fuzzer needs Python. Multi-file targets join their files with the separator FuzzTargets.FileSeparator.
"""
import base64, json, os, random, struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
SEP = b"%%lmfuzz%%"


def put(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def join(*parts):
    return SEP.join(p.encode("utf-8") if isinstance(p, str) else p for p in parts)


# --- safetensors header -------------------------------------------------------------------------------------
def safetensors(entries, metadata=None, pad=True, data=None):
    header = dict(entries)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    end = max([e["data_offsets"][1] for e in entries.values()] or [0])
    return struct.pack("<Q", len(text)) + text + (data if data is not None else bytes(end))

put("safetensors-header", "two-tensors.safetensors", safetensors({
    "wte.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "ln.bias": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
}, {"format": "pt"}))
put("safetensors-header", "empty.safetensors", safetensors({}))
put("safetensors-header", "scalar-and-bool.safetensors", safetensors({
    "step": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]},
    "mask": {"dtype": "BOOL", "shape": [3], "data_offsets": [8, 11]},
    "ids": {"dtype": "I32", "shape": [0, 5], "data_offsets": [11, 11]},
}))
put("safetensors-header", "gap.safetensors", safetensors({
    "a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
    "b": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]},
}))
put("safetensors-header", "huge-shape.safetensors", safetensors({
    "a": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]},
}))
put("safetensors-header", "truncated.safetensors", struct.pack("<Q", 64) + b'{"a":{"dtype":"F32","shape":[1]')

# --- config.json ------------------------------------------------------------------------------------------
put("config-json", "gpt2.json", json.dumps({
    "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 1000, "n_positions": 64,
    "n_embd": 32, "n_layer": 2, "n_head": 4, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05,
    "initializer_range": 0.02, "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "bos_token_id": 999,
    "eos_token_id": 999, "torch_dtype": "float32", "transformers_version": "4.46.3", "task_specific_params": {"x": {"y": 1}},
}, indent=2))
put("config-json", "roberta.json", json.dumps({
    "model_type": "roberta", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 64, "max_position_embeddings": 66, "type_vocab_size": 1, "pad_token_id": 1,
    "hidden_act": "gelu", "layer_norm_eps": 1e-05, "dtype": "float32",
}))
put("config-json", "bert.json", json.dumps({
    "model_type": "bert", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
    "intermediate_size": 37, "max_position_embeddings": 64, "type_vocab_size": 2, "hidden_dropout_prob": 0.0,
}))
put("config-json", "wrong-types.json", '{"model_type": "gpt2", "n_layer": "2", "n_embd": 32.5, "n_head": [4], "tie_word_embeddings": false}')
put("config-json", "unknown-type.json", '{"model_type": "llama", "hidden_size": 4096}')

# --- tokenizers -------------------------------------------------------------------------------------------
BPE_VOCAB = {"Ġ": 0, "Ċ": 1, "d": 2, "e": 3, "h": 4, "l": 5, "o": 6, "r": 7, "w": 8, "he": 9, "ll": 10, "hell": 11,
             "hello": 12, "Ġw": 13, "or": 14, "Ġwor": 15, "Ġworl": 16, "Ġworld": 17, "ld": 18, "<|endoftext|>": 19}
BPE_MERGES = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d", "l d"]
MERGES_TXT = "#version: 0.2\n" + "\n".join(BPE_MERGES) + "\n"
put("bpe-vocab-merges", "gpt2-like", join(json.dumps(BPE_VOCAB), MERGES_TXT))
roberta_vocab = dict(BPE_VOCAB, **{"<s>": 20, "<pad>": 21, "</s>": 22, "<unk>": 23, "<mask>": 24})
put("bpe-vocab-merges", "roberta-like", join(json.dumps(roberta_vocab), MERGES_TXT))
put("bpe-vocab-merges", "bad-merge-line", join(json.dumps(BPE_VOCAB), "#version: 0.2\nh e\nl  l\nx\n"))
put("bpe-vocab-merges", "merge-of-unknown-tokens", join('{"a": 0, "b": 1}', "a b\nab c\n"))
put("bpe-vocab-merges", "negative-and-duplicate-ids", join('{"a": 0, "b": 0, "c": -1}', "a b\n"))

WORDPIECE = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "##ing", "play", "!", ",", "東", "naive", "cafe"]
put("wordpiece-vocab", "bert-like.txt", "\n".join(WORDPIECE) + "\n")
put("wordpiece-vocab", "crlf-and-duplicates.txt", "[UNK]\r\nhello\r\nhello\r\n\r\n##\r\n")
put("wordpiece-vocab", "no-unk.txt", "hello\nworld\n")

BPE_TOKENIZER_JSON = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": 19, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
              "fuse_unk": False, "byte_fallback": False, "vocab": BPE_VOCAB, "merges": BPE_MERGES},
}
put("tokenizer-json", "bpe.json", json.dumps(BPE_TOKENIZER_JSON, indent=1, ensure_ascii=False))
roberta_json = json.loads(json.dumps(BPE_TOKENIZER_JSON))
roberta_json["post_processor"] = {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 19], "cls": ["hello", 12], "trim_offsets": True, "add_prefix_space": False}
roberta_json["model"]["merges"] = [m.split(" ") for m in BPE_MERGES]
put("tokenizer-json", "bpe-roberta-pairs.json", json.dumps(roberta_json, ensure_ascii=False))
WORDPIECE_JSON = {
    "version": "1.0",
    "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for i, t in enumerate(WORDPIECE[:5])],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                       "pair": [], "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
              "vocab": {t: i for i, t in enumerate(WORDPIECE)}},
}
put("tokenizer-json", "wordpiece.json", json.dumps(WORDPIECE_JSON, ensure_ascii=False))
put("tokenizer-json", "unigram.json", '{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}')
put("tokenizer-json", "wrong-types.json", '{"model": {"type": 5, "vocab": {"a": "0"}, "merges": [1]}, "added_tokens": [{"id": "x"}]}')

put("tokenizer-config", "gpt2.json", join(json.dumps({
    "tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, "add_prefix_space": False, "bos_token": "<|endoftext|>",
    "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "clean_up_tokenization_spaces": True,
    "added_tokens_decoder": {"18": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False, "special": True}},
})))
put("tokenizer-config", "roberta-with-maps.json", join(json.dumps({
    "tokenizer_class": "RobertaTokenizerFast", "model_max_length": 512, "add_bos_token": True, "errors": "replace",
    "mask_token": {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False, "single_word": False},
}), json.dumps({"bos_token": "<s>", "eos_token": "</s>", "additional_special_tokens": ["<x>", {"content": "<y>"}]}),
    json.dumps({"<new>": 19, "<new2>": 25})))
put("tokenizer-config", "bert-class-over-bpe.json", join('{"tokenizer_class": "BertTokenizer", "do_lower_case": false, "model_max_length": 1e30}'))
put("tokenizer-config", "wrong-types.json", join('{"tokenizer_class": 3, "added_tokens_decoder": {"-5": {"content": "x"}, "x": 1}}', '{"pad_token": 7}', '{"a": "b"}'))

# --- trainer_state.json -----------------------------------------------------------------------------------
put("trainer-state", "hf.json", json.dumps({
    "best_global_step": None, "best_metric": None, "best_model_checkpoint": None, "epoch": 1.5, "eval_steps": 500,
    "global_step": 6, "is_hyper_param_search": False, "is_local_process_zero": True, "is_world_process_zero": True,
    "log_history": [{"epoch": 0.5, "grad_norm": 1.25, "learning_rate": 4e-05, "loss": 3.5, "step": 2},
                    {"epoch": 1.5, "eval_loss": 3.1, "eval_runtime": 0.5, "step": 6}],
    "logging_steps": 2, "max_steps": 8, "num_input_tokens_seen": 0, "num_train_epochs": 2, "save_steps": 3,
    "stateful_callbacks": {"TrainerControl": {"args": {"should_save": True, "should_training_stop": False}, "attributes": {}}},
    "total_flos": 1234.0, "train_batch_size": 2, "trial_name": None, "trial_params": None,
}, indent=2, sort_keys=True) + "\n")
put("trainer-state", "minimal.json", '{"global_step": 0}')
put("trainer-state", "wrong-types.json", '{"global_step": "5", "epoch": [1], "log_history": [{"step": "x", "loss": 1}], "best_model_checkpoint": 3}')
put("trainer-state", "out-of-range.json", '{"global_step": -5, "max_steps": 1e300, "num_input_tokens_seen": -1e40}')

# --- rng_state.json ---------------------------------------------------------------------------------------
def generator_state(seed, left=624, next_=0):
    rnd = random.Random(seed)
    words = [rnd.getrandbits(32) for _ in range(624)]
    legacy = struct.pack("<QiiQ", seed, left, 1, next_) + struct.pack("<624Q", *words) + struct.pack("<dddi4x", 0.0, 0.0, 0.0, 0)
    return legacy + struct.pack("<f?3x", 0.0, False)

assert len(generator_state(1)) == 5056
put("rng-state", "cpu-and-collator.json", json.dumps({
    "cpu": base64.b64encode(generator_state(42)).decode(), "data_seed": 42,
    "collator": base64.b64encode(generator_state(7, left=1, next_=624)).decode()}, indent=2))
put("rng-state", "cpu-only.json", json.dumps({"cpu": base64.b64encode(generator_state(3, left=5, next_=3)).decode()}))
put("rng-state", "three-bytes.json", json.dumps({"cpu": base64.b64encode(b"abc").decode()}))
put("rng-state", "wrong-types.json", '{"cpu": 5, "collator": ["x"]}')
put("rng-state", "unseeded.json", json.dumps({"cpu": base64.b64encode(generator_state(3)[:12] + b"\0\0\0\0" + generator_state(3)[16:]).decode()}))

# --- token cache entry: complete.json, offsets.i64, tokens --------------------------------------------------
def cache_entry(element_size, examples, line_by_line=False, marker_overrides=None, offsets=None):
    tokens = [t for example in examples for t in example]
    offs = [0]
    for example in examples:
        offs.append(offs[-1] + len(example))
    if offsets is not None:
        offs = offsets
    marker = {"format": 1, "element_size": element_size, "examples": len(offs) - 1, "tokens": len(tokens),
              "stats": {"split": "train", "source": "train.txt", "rows": 3, "tokens": len(tokens), "examples": len(examples),
                        "dropped_tokens": 1, "block_size": 4, "line_by_line": line_by_line}}
    marker.update(marker_overrides or {})
    fmt = "<%dH" if element_size == 2 else "<%di"
    return join(json.dumps(marker, indent=2), struct.pack("<%dq" % len(offs), *offs), struct.pack(fmt % len(tokens), *tokens))

put("token-cache", "blocks-u16", cache_entry(2, [[1, 2, 3, 4], [5, 6, 7, 8]]))
put("token-cache", "lines-i32", cache_entry(4, [[70000, 2], [3], [4, 5, 6]], line_by_line=True))
put("token-cache", "interior-offsets-out-of-order", cache_entry(2, [[1, 2], [3, 4], [5, 6]], offsets=[0, 5, 1, 6]))
put("token-cache", "wrong-element-size", cache_entry(2, [[1, 2]], marker_overrides={"element_size": 3}))

# --- data files ---------------------------------------------------------------------------------------------
put("csv", "text-column.csv", 'id,text\n1,hello world\n2,"quoted, with comma"\n3,"multi\nline ""quote"""\n\n4,\n')
put("csv", "first-column.csv", "\ufeffbody,label\r\nfirst,1\r\nsecond,0\r\n")
put("csv", "too-many-fields.csv", "text\na,b\n")
put("csv", "open-quote.csv", 'text\n"never closed\n')
put("json", "array.json", '[{"text": "hello"}, {"text": "world", "id": 2}]')
put("json", "bom-array.json", '\ufeff  [ {"content": "a\\u00e9\\n", "text": "b"} ]')
put("json", "array-of-scalars.json", '[1, "x", null]')
put("json", "lone-surrogate.json", '[{"text": "\\ud800"}]')
put("jsonl", "lines.jsonl", '{"text": "hello"}\n\n{"text": "wor\\u006cd", "meta": {"a": [1, 2]}}\r\n{"text": ""}\n')
put("jsonl", "missing-field.jsonl", '{"text": "a"}\n{"body": "b"}\n')
put("jsonl", "not-a-string.jsonl", '{"text": 5}\n')
put("jsonl", "lone-surrogate.jsonl", '{"text": "ok"}\n{"text": "\\ud800"}\n')
put("jsonl", "broken.jsonl", '{"text": "a"\n[1]\n')
