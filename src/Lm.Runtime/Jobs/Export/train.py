#!/usr/bin/env python3
# Written by `lm-tune export`: runs an lm-tune fine-tune job with Hugging Face transformers' Trainer, on as many
# processes as `accelerate launch` or `torchrun` starts. It reads the same training_args.json that run_clm.py and
# run_mlm.py (transformers' language-modeling examples) read, and prepares the data as those scripts do and as
# lm-tune does: the `text` builder of `datasets` for .txt files, group_texts over map batches of 1,000 rows (per
# contiguous shard when preprocessing_num_workers is set), the validation split `train[:N%]`, run_clm's block size
# rules and run_mlm's masking collator. It needs only torch and transformers; `datasets` only for hub datasets.
#
#   python train.py --objective clm training_args.json
import argparse
import io
import json
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from itertools import chain
from typing import Optional

# torch and transformers are imported in main(), so the data functions can be checked without them.

logger = logging.getLogger("lm_tune_export")

# The rows of one map batch, as datasets.map(batched=True) uses by default and lm-tune's group_batch_size.
MAP_BATCH_SIZE = 1000


@dataclass
class ModelArguments:
    """run_clm.py's / run_mlm.py's ModelArguments (the fields lm-tune exports)."""

    model_name_or_path: Optional[str] = None
    model_type: Optional[str] = None
    config_overrides: Optional[str] = None
    config_name: Optional[str] = None
    tokenizer_name: Optional[str] = None
    cache_dir: Optional[str] = None
    use_fast_tokenizer: bool = True
    model_revision: str = "main"
    token: Optional[str] = None
    trust_remote_code: bool = False
    dtype: Optional[str] = None


@dataclass
class DataTrainingArguments:
    """The union of run_clm.py's and run_mlm.py's DataTrainingArguments."""

    dataset_name: Optional[str] = None
    dataset_config_name: Optional[str] = None
    train_file: Optional[str] = None
    validation_file: Optional[str] = None
    max_train_samples: Optional[int] = None
    max_eval_samples: Optional[int] = None
    streaming: bool = False
    block_size: Optional[int] = None
    max_seq_length: Optional[int] = None
    overwrite_cache: bool = False
    validation_split_percentage: Optional[int] = 5
    preprocessing_num_workers: Optional[int] = None
    keep_linebreaks: bool = True
    mlm_probability: float = 0.15
    line_by_line: bool = False
    pad_to_max_length: bool = False


def read_text_rows(path, keep_linebreaks):
    # datasets' `text` builder: the file opened in text mode (universal newlines: "\r\n" and "\r" become "\n"),
    # then StringIO.readlines, which splits on "\n" only (not on the other separators str.splitlines knows).
    with open(path, encoding="utf-8") as f:
        rows = io.StringIO(f.read()).readlines()
    return rows if keep_linebreaks else [row.rstrip("\n") for row in rows]


def read_table(path):
    """Column name -> list of values, for .csv, .json/.jsonl and .parquet, in the file's column order."""
    extension = os.path.splitext(path)[1].lower()
    if extension == ".csv":
        import csv

        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        columns = list(rows[0].keys()) if rows else []
        return {c: [r[c] for r in rows] for c in columns}
    if extension in (".json", ".jsonl"):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        stripped = text.lstrip()
        if stripped.startswith("["):
            rows = json.loads(stripped)
        elif stripped.startswith("{") and extension == ".json" and "\n{" not in stripped.strip():
            document = json.loads(stripped)
            rows = [dict(zip(document, values)) for values in zip(*document.values())]
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        columns = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
        return {c: [r.get(c) for r in rows] for c in columns}
    if extension == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return {c: table.column(c).to_pylist() for c in table.column_names}
    raise ValueError(f"{path}: unsupported data file type {extension}")


def load_texts(path, keep_linebreaks):
    extension = os.path.splitext(path)[1].lower()
    if extension in (".txt", ".text", ".raw", ".tokens"):
        return read_text_rows(path, keep_linebreaks)
    table = read_table(path)
    column = "text" if "text" in table else next(iter(table))
    return ["" if value is None else str(value) for value in table[column]]


def percent_boundary(percent, rows):
    # datasets' split slicing `train[:N%]` rounds to the closest row, ties to even (Python's round).
    return int(round(percent * rows / 100.0))


def load_raw_texts(model_args, data_args, keep_linebreaks):
    """{"train": [...], "validation": [...]} as run_clm.py/run_mlm.py load them."""
    if data_args.dataset_name is not None:
        from datasets import load_dataset

        kwargs = dict(cache_dir=model_args.cache_dir, token=model_args.token)
        raw = load_dataset(data_args.dataset_name, data_args.dataset_config_name, **kwargs)
        splits = {name: raw[name] for name in raw}
        if "validation" not in splits:
            percent = data_args.validation_split_percentage
            splits["validation"] = load_dataset(data_args.dataset_name, data_args.dataset_config_name,
                                                split=f"train[:{percent}%]", **kwargs)
            splits["train"] = load_dataset(data_args.dataset_name, data_args.dataset_config_name,
                                           split=f"train[{percent}%:]", **kwargs)
        texts = {}
        for name in ("train", "validation"):
            if name in splits:
                columns = splits[name].column_names
                column = "text" if "text" in columns else columns[0]
                texts[name] = list(splits[name][column])
        return texts

    texts = {}
    if data_args.train_file is not None:
        texts["train"] = load_texts(data_args.train_file, keep_linebreaks)
    if data_args.validation_file is not None:
        texts["validation"] = load_texts(data_args.validation_file, keep_linebreaks)
    if "validation" not in texts and "train" in texts:
        rows = texts["train"]
        cut = percent_boundary(data_args.validation_split_percentage, len(rows))
        texts["validation"], texts["train"] = rows[:cut], rows[cut:]
    return texts


def contiguous_shards(rows, shards):
    # datasets.map(num_proc=k) maps k contiguous shards, the first `len % k` one row longer.
    div, mod = divmod(len(rows), shards)
    start = 0
    for index in range(shards):
        end = start + div + (1 if index < mod else 0)
        yield rows[start:end]
        start = end


def map_batches(rows, shards):
    for shard in contiguous_shards(rows, shards):
        for begin in range(0, len(shard), MAP_BATCH_SIZE):
            yield shard[begin:begin + MAP_BATCH_SIZE]


def group_texts(encodings, block_size, keep_short):
    """run_clm's / run_mlm's group_texts over one map batch of tokenizer outputs."""
    keys = list(encodings[0].keys()) if encodings else []
    concatenated = {k: list(chain(*(e[k] for e in encodings))) for k in keys}
    total = len(concatenated[keys[0]]) if keys else 0
    if total >= block_size:
        total = (total // block_size) * block_size
    elif not keep_short:
        return []
    blocks = []
    for start in range(0, total, block_size):
        blocks.append({k: v[start:start + block_size] for k, v in concatenated.items()})
    return blocks


class ListDataset:
    """A map-style dataset of prepared examples (what torch's DataLoader needs: len and indexing)."""

    def __init__(self, examples):
        self.examples = examples

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        return self.examples[index]


def prepare(texts, tokenizer, objective, data_args, block_size, shards):
    examples = []
    if objective == "mlm" and data_args.line_by_line:
        padding = "max_length" if data_args.pad_to_max_length else False
        for batch in map_batches(texts, shards):
            lines = [line for line in batch if len(line) > 0 and not line.isspace()]
            if not lines:
                continue
            encoded = tokenizer(lines, padding=padding, truncation=True, max_length=block_size,
                                return_special_tokens_mask=True)
            examples.extend({k: encoded[k][i] for k in encoded} for i in range(len(lines)))
        return examples
    for batch in map_batches(texts, shards):
        if objective == "mlm":
            encoded = tokenizer(batch, return_special_tokens_mask=True)
        else:
            encoded = tokenizer(batch)
        rows = [{k: encoded[k][i] for k in encoded} for i in range(len(batch))]
        for block in group_texts(rows, block_size, keep_short=objective == "mlm"):
            if objective == "clm":
                block["labels"] = list(block["input_ids"])
            examples.append(block)
    return examples


def clm_block_size(data_args, tokenizer, config):
    max_positions = getattr(config, "max_position_embeddings", None) or 1024
    if data_args.block_size is None:
        block_size = tokenizer.model_max_length
        if block_size > max_positions:
            block_size = min(1024, max_positions) if max_positions > 0 else 1024
        return block_size
    return min(data_args.block_size, tokenizer.model_max_length)


def mlm_sequence_length(data_args, tokenizer):
    requested = data_args.max_seq_length if data_args.max_seq_length is not None else data_args.block_size
    if requested is None:
        return min(tokenizer.model_max_length, 1024)
    return min(requested, tokenizer.model_max_length)


def main():
    import torch
    import transformers
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        HfArgumentParser,
        Trainer,
        TrainingArguments,
        default_data_collator,
        set_seed,
    )

    cli = argparse.ArgumentParser(description="Run an lm-tune job exported by `lm-tune export`.")
    cli.add_argument("--objective", choices=["clm", "mlm"], required=True)
    cli.add_argument("arguments", help="training_args.json")
    cli_args = cli.parse_args()

    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, TrainingArguments))
    model_args, data_args, training_args = parser.parse_json_file(json_file=os.path.abspath(cli_args.arguments))
    objective = cli_args.objective

    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", handlers=[logging.StreamHandler(sys.stdout)])
    logger.setLevel(training_args.get_process_log_level())
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())
    set_seed(training_args.seed)

    config_kwargs = dict(cache_dir=model_args.cache_dir, revision=model_args.model_revision, token=model_args.token,
                         trust_remote_code=model_args.trust_remote_code)
    if model_args.config_name:
        config = AutoConfig.from_pretrained(model_args.config_name, **config_kwargs)
    elif model_args.model_name_or_path:
        config = AutoConfig.from_pretrained(model_args.model_name_or_path, **config_kwargs)
    else:
        config = transformers.CONFIG_MAPPING[model_args.model_type]()
    if model_args.config_overrides is not None:
        config.update_from_string(model_args.config_overrides)

    tokenizer_source = model_args.tokenizer_name or model_args.model_name_or_path or model_args.config_name
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, use_fast=model_args.use_fast_tokenizer, **config_kwargs)

    auto_model = AutoModelForCausalLM if objective == "clm" else AutoModelForMaskedLM
    if model_args.model_name_or_path:
        dtype = model_args.dtype if model_args.dtype in ("auto", None) else getattr(torch, model_args.dtype)
        model = auto_model.from_pretrained(model_args.model_name_or_path, config=config, dtype=dtype, **{
            k: v for k, v in config_kwargs.items()})
    else:
        model = auto_model.from_config(config, trust_remote_code=model_args.trust_remote_code)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))

    keep_linebreaks = objective == "clm" and data_args.keep_linebreaks
    texts = load_raw_texts(model_args, data_args, keep_linebreaks)
    if objective == "clm":
        block_size = clm_block_size(data_args, tokenizer, config)
    else:
        block_size = mlm_sequence_length(data_args, tokenizer)
    shards = data_args.preprocessing_num_workers or 1

    train_dataset = eval_dataset = None
    with training_args.main_process_first(desc="tokenizing and grouping"):
        if training_args.do_train:
            if "train" not in texts:
                raise ValueError("--do_train requires a train dataset")
            train_examples = prepare(texts["train"], tokenizer, objective, data_args, block_size, shards)
            if data_args.max_train_samples is not None:
                train_examples = train_examples[:data_args.max_train_samples]
            train_dataset = ListDataset(train_examples)
        if training_args.do_eval:
            if "validation" not in texts:
                raise ValueError("--do_eval requires a validation dataset")
            eval_examples = prepare(texts["validation"], tokenizer, objective, data_args, block_size, shards)
            if data_args.max_eval_samples is not None:
                eval_examples = eval_examples[:data_args.max_eval_samples]
            eval_dataset = ListDataset(eval_examples)

    def preprocess_logits_for_metrics(logits, labels):
        if isinstance(logits, tuple):
            logits = logits[0]
        return logits.argmax(dim=-1)

    def compute_metrics(eval_preds):
        preds, labels = eval_preds
        if objective == "clm":
            # run_clm.py: predictions at position i are for the label at i + 1.
            labels = labels[:, 1:].reshape(-1)
            preds = preds[:, :-1].reshape(-1)
        else:
            labels = labels.reshape(-1)
            preds = preds.reshape(-1)
            keep = labels != -100
            labels, preds = labels[keep], preds[keep]
        return {"accuracy": float((preds == labels).mean()) if len(labels) else 0.0}

    if objective == "clm":
        collator = default_data_collator
    else:
        pad_to_multiple_of_8 = data_args.line_by_line and training_args.fp16 and not data_args.pad_to_max_length
        collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=data_args.mlm_probability,
                                                   pad_to_multiple_of=8 if pad_to_multiple_of_8 else None)

    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics if training_args.do_eval else None,
        preprocess_logits_for_metrics=preprocess_logits_for_metrics if training_args.do_eval else None,
    )

    if training_args.do_train:
        result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()
        metrics = result.metrics
        metrics["train_samples"] = len(train_dataset)
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()

    if training_args.do_eval:
        metrics = trainer.evaluate()
        metrics["eval_samples"] = len(eval_dataset)
        try:
            metrics["perplexity"] = math.exp(metrics["eval_loss"])
        except OverflowError:
            metrics["perplexity"] = float("inf")
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)

    card = {"finetuned_from": model_args.model_name_or_path,
            "tasks": "text-generation" if objective == "clm" else "fill-mask"}
    if data_args.dataset_name is not None:
        card["dataset"] = data_args.dataset_name
    if training_args.push_to_hub:
        trainer.push_to_hub(**card)
    else:
        trainer.create_model_card(**card)


if __name__ == "__main__":
    main()
