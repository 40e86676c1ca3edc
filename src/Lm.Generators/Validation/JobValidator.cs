using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Lm.Generators.Diagnostics;
using Lm.Generators.Model;
using Lm.Generators.Parsing;
using Lm.Generators.Schema;
using Lm.Schema;

namespace Lm.Generators.Validation
{
    /// <summary>
    /// Checks a job's values as Lm.Runtime's <c>FineTuneJob.Validate()</c> would at run time (ranges, choices,
    /// arguments that need each other), plus what only the compiler can check early: evaluation without validation
    /// data and an objective that does not fit a known model. Each diagnostic points at the attribute argument
    /// that set the value; a value from item metadata names the item instead.
    /// </summary>
    internal static class JobValidator
    {
        public static List<DiagnosticInfo> Validate(IReadOnlyList<FieldValue> values)
        {
            var diagnostics = new List<DiagnosticInfo>();
            var byName = new Dictionary<string, FieldValue>(StringComparer.Ordinal);
            foreach (FieldValue value in values) byName[value.Name] = value;

            var invalid = new HashSet<string>(StringComparer.Ordinal);
            foreach (FieldValue value in values)
            {
                SchemaField field = JobSchema.Find(value.Name)!;
                DiagnosticInfo? problem = CheckValue(field, value);
                if (problem is null) continue;
                diagnostics.Add(problem);
                invalid.Add(value.Name);
            }

            var job = new JobView(byName, invalid);
            CheckEpochsAndSteps(job, diagnostics);
            CheckValidationData(job, diagnostics);
            CheckObjective(job, diagnostics);
            CheckLoraTargets(job, diagnostics);
            CheckBestModelAndEarlyStopping(job, diagnostics);
            CheckChatData(job, diagnostics);
            return diagnostics;
        }

        /// <summary>How a message names a value: the C# name and HF name, and the item when it comes from one.</summary>
        public static string DisplayName(FieldValue value)
        {
            SchemaField field = JobSchema.Find(value.Name)!;
            string name = value.FromItem ? field.PascalName : value.Property ?? field.AttributeProperty;
            string display = name + " (" + field.Name + ")";
            return value.FromItem ? display + " of <" + JobItemReader.ItemType + " Include=\"" + value.ItemName + "\">" : display;
        }

        private static DiagnosticInfo? CheckValue(SchemaField field, FieldValue value)
        {
            switch (field.Kind)
            {
                case FieldKind.Integer:
                case FieldKind.Number:
                    double number = double.Parse(value.Text, NumberStyles.Float, CultureInfo.InvariantCulture);
                    if (field.Range is ValueRange range && !range.Contains(number))
                    {
                        return range.IsPositive
                            ? DiagnosticInfo.Create(DiagnosticDescriptors.ValueMustBePositive, value.Location, DisplayName(value), value.Text)
                            : DiagnosticInfo.Create(DiagnosticDescriptors.ValueOutOfRange, value.Location, DisplayName(value), range.Describe(), value.Text);
                    }
                    if (double.IsNaN(number) || double.IsInfinity(number))
                        return DiagnosticInfo.Create(DiagnosticDescriptors.ValueOutOfRange, value.Location, DisplayName(value), "a finite number", value.Text);
                    if (field.IsStepCount && number > 1 && number != Math.Floor(number))
                        return DiagnosticInfo.Create(DiagnosticDescriptors.ValueOutOfRange, value.Location, DisplayName(value),
                            "a whole number when above 1 (below 1 it is a ratio of the total steps)", value.Text);
                    return null;
                case FieldKind.Map:
                    return FieldText.TryParseMap(value.Text, out _)
                        ? null
                        : DiagnosticInfo.Create(DiagnosticDescriptors.MalformedValue, value.Location, DisplayName(value),
                            "key=number pairs separated by commas", value.Text);
                case FieldKind.Text:
                    if (field.Name == "output_dir" && value.Text.Trim().Length == 0)
                        return DiagnosticInfo.Create(DiagnosticDescriptors.MalformedValue, value.Location, DisplayName(value), "a folder path", value.Text);
                    if ((field.Name == "train_file" || field.Name == "validation_file") && !IsDataFile(value.Text))
                        return DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedDataFile, value.Location, DisplayName(value), value.Text);
                    if (field.Choices is null || IsChoice(field.Choices, value.Text)) return null;
                    string? nearest = Suggestion.Nearest(value.Text.Trim(), field.Choices);
                    return DiagnosticInfo.Create(DiagnosticDescriptors.UnknownChoice, value.Location, DisplayName(value),
                        string.Join(", ", field.Choices), value.Text, nearest is null ? "" : "; did you mean '" + nearest + "'?");
                default:
                    return null;
            }
        }

        private static void CheckEpochsAndSteps(JobView job, List<DiagnosticInfo> diagnostics)
        {
            FieldValue? maxStepsValue = job.Valid("max_steps");
            int maxSteps = maxStepsValue is null ? -1 : int.Parse(maxStepsValue.Text, CultureInfo.InvariantCulture);
            if (maxStepsValue is not null && maxSteps != -1 && maxSteps <= 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ValueOutOfRange, maxStepsValue.Location,
                    DisplayName(maxStepsValue), "positive, or -1 (not set)", maxStepsValue.Text));
                return;
            }
            // HF trains for max_steps when it is set and ignores num_train_epochs then.
            FieldValue? epochs = job.Valid("num_train_epochs");
            if (epochs is not null && maxSteps <= 0 && !(double.Parse(epochs.Text, CultureInfo.InvariantCulture) > 0))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ValueMustBePositive, epochs.Location, DisplayName(epochs), epochs.Text));
        }

        private static void CheckValidationData(JobView job, List<DiagnosticInfo> diagnostics)
        {
            // run_clm.py / run_mlm.py evaluate on validation_file, else the dataset's validation split, else the first
            // validation_split_percentage percent of train: only with none of them is there nothing to evaluate on.
            FieldValue? strategy = job.Valid("eval_strategy");
            if (strategy is null || strategy.Text == "no") return;
            if (job.Has("validation_file") || job.Has("dataset_name")) return;
            FieldValue? split = job.Valid("validation_split_percentage");
            if (split is null || split.Text != "0") return;
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.EvalWithoutValidationData,
                strategy.Location ?? split.Location, DisplayName(strategy), strategy.Text));
        }

        private static void CheckObjective(JobView job, List<DiagnosticInfo> diagnostics)
        {
            FieldValue? objective = job.Valid("objective");
            if (objective is null) return;
            FieldValue? model = job.Valid("model_name_or_path");
            ArchitectureRow? family = null;
            if (model is not null) KnownModels.ByName.TryGetValue(model.Text, out family);
            if (family is null)
            {
                model = job.Valid("model_type");
                if (model is not null) KnownModels.ByModelType.TryGetValue(model.Text, out family);
            }
            if (family is null || model is null || family.Objective == objective.Text) return;
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ObjectiveDoesNotFitModel,
                objective.Location ?? model.Location, objective.Text, model.Text, family.ModelType, family.Objective));
        }

        /// <summary>
        /// Each name of <c>lora_target_modules</c> (comma-separated; <c>all-linear</c> aside) must be a linear layer of the
        /// model's architecture when it is known, else of some architecture lm-tune builds: PEFT would only fail when the
        /// adapter is built, after the data is prepared.
        /// </summary>
        private static void CheckLoraTargets(JobView job, List<DiagnosticInfo> diagnostics)
        {
            FieldValue? targets = job.Valid("lora_target_modules");
            if (targets is null || string.Equals(targets.Text.Trim(), "all-linear", StringComparison.OrdinalIgnoreCase)) return;
            ArchitectureRow? family = FamilyOf(job);
            IReadOnlyList<string> known = family is null ? LinearModules.Any : LinearModules.ForModelType(family.ModelType);
            string architecture = family is null ? "any architecture lm-tune builds" : $"a {family.ModelType} model";
            foreach (string name in targets.Text.Split(','))
            {
                string trimmed = name.Trim();
                // A full module path (model.layers.0.self_attn.q_proj) matches by its last name, as PEFT's suffix rule.
                string last = trimmed.Substring(trimmed.LastIndexOf('.') + 1);
                if (trimmed.Length == 0 || known.Contains(last, StringComparer.Ordinal)) continue;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownLoraTarget, targets.Location,
                    trimmed, architecture, string.Join(", ", known.Distinct())));
            }
        }

        private static ArchitectureRow? FamilyOf(JobView job)
        {
            ArchitectureRow? family = null;
            if (job.Valid("model_name_or_path") is { } model) KnownModels.ByName.TryGetValue(model.Text, out family);
            if (family is null && job.Valid("model_type") is { } type) KnownModels.ByModelType.TryGetValue(type.Text, out family);
            return family;
        }

        private static void CheckBestModelAndEarlyStopping(JobView job, List<DiagnosticInfo> diagnostics)
        {
            // A strategy that failed its own check says nothing about the others.
            if (!job.IsValidOrUnset("eval_strategy") || !job.IsValidOrUnset("save_strategy")) return;
            string evalStrategy = job.Valid("eval_strategy")?.Text ?? "no";
            string saveStrategy = job.Valid("save_strategy")?.Text ?? "steps";
            FieldValue? loadBest = job.Valid("load_best_model_at_end");
            if (loadBest is not null && loadBest.Text == "true")
            {
                if (evalStrategy == "no")
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InconsistentArguments, loadBest.Location,
                        DisplayName(loadBest) + " needs EvalStrategy steps or epoch, to have evaluations to choose the best model from"));
                else if (saveStrategy != evalStrategy)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InconsistentArguments, loadBest.Location,
                        DisplayName(loadBest) + " needs SaveStrategy to match EvalStrategy (" + saveStrategy + " != " + evalStrategy
                        + "), so that every evaluated step has a checkpoint"));
                else
                    CheckSavesFallOnEvaluations(job, loadBest, evalStrategy, diagnostics);
            }
            FieldValue? patience = job.Valid("early_stopping_patience");
            if (patience is not null && evalStrategy == "no")
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InconsistentArguments, patience.Location,
                    DisplayName(patience) + " needs EvalStrategy steps or epoch: early stopping compares evaluations"));
        }

        /// <summary>
        /// Chat and instruction rows (Lm.Runtime's Data/Chat): a format other than text needs .json/.jsonl files
        /// (parquet for the flat prompt/completion and instruction shapes), LM0336 at run time; the chat options do
        /// nothing on text rows.
        /// </summary>
        private static void CheckChatData(JobView job, List<DiagnosticInfo> diagnostics)
        {
            string format = job.Valid("dataset_format")?.Text ?? "auto";
            if (format == "text")
            {
                foreach (string name in new[] { "assistant_only_loss", "completion_only_loss", "packing" })
                {
                    FieldValue? option = job.Valid(name);
                    if (option is not null && option.Text == "true")
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ChatOptionOnTextData, option.Location, DisplayName(option)));
                }
                return;
            }
            if (format == "auto") return;
            foreach (string name in new[] { "train_file", "validation_file" })
            {
                FieldValue? file = job.Valid(name);
                if (file is null) continue;
                string extension = System.IO.Path.GetExtension(file.Text.Trim()).ToLowerInvariant();
                bool readable = extension == ".json" || extension == ".jsonl" || (extension == ".parquet" && format != "messages");
                if (!readable)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ChatDataFileType, file.Location, DisplayName(file), file.Text, format,
                        format == "messages" ? "conversations cannot come from .parquet" : "or .parquet"));
            }
        }

        // The extensions Lm.Runtime's TextSource.FromFile opens (run_clm.py's "text", "csv", "json", "parquet" builders).
        private static readonly string[] DataFileExtensions = { ".txt", ".text", ".raw", ".tokens", ".csv", ".json", ".jsonl", ".parquet" };

        /// <summary>HF: with load_best_model_at_end and step intervals, save_steps must be a multiple of the eval interval.</summary>
        private static void CheckSavesFallOnEvaluations(JobView job, FieldValue loadBest, string evalStrategy, List<DiagnosticInfo> diagnostics)
        {
            if (evalStrategy != "steps") return;
            foreach (string name in new[] { "save_steps", "eval_steps", "logging_steps" })
                if (!job.IsValidOrUnset(name)) return;
            FieldValue? saveValue = job.Valid("save_steps");
            FieldValue? everyValue = job.Valid("eval_steps") ?? job.Valid("logging_steps");
            double save = saveValue is null ? 500 : double.Parse(saveValue.Text, CultureInfo.InvariantCulture);
            double every = everyValue is null ? 500 : double.Parse(everyValue.Text, CultureInfo.InvariantCulture);
            if (every < 1 || save < 1 || save % every == 0) return;
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InconsistentArguments, saveValue?.Location ?? loadBest.Location,
                "SaveSteps (save_steps) " + Format(save) + " must be a multiple of the evaluation interval " + Format(every)
                + " with LoadBestModelAtEnd, so that every evaluation falls on a checkpoint"));
        }

        private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

        private static bool IsDataFile(string path)
        {
            string extension = System.IO.Path.GetExtension(path.Trim()).ToLowerInvariant();
            return DataFileExtensions.Contains(extension);
        }

        private static bool IsChoice(string[] choices, string text)
        {
            foreach (string choice in choices)
            {
                if (choice == text) return true;
                // "cuda:N" stands for a device ordinal.
                if (choice.EndsWith(":N", StringComparison.Ordinal))
                {
                    string prefix = choice.Substring(0, choice.Length - 1);
                    if (text.Length > prefix.Length && text.StartsWith(prefix, StringComparison.Ordinal)
                        && text.Substring(prefix.Length).All(c => c >= '0' && c <= '9'))
                        return true;
                }
            }
            return false;
        }

        /// <summary>The job's values by name, hiding those that already failed their own check (no cascades).</summary>
        private sealed class JobView
        {
            private readonly Dictionary<string, FieldValue> _values;
            private readonly HashSet<string> _invalid;

            public JobView(Dictionary<string, FieldValue> values, HashSet<string> invalid)
            {
                _values = values;
                _invalid = invalid;
            }

            public bool Has(string name) => _values.ContainsKey(name);

            public bool IsValidOrUnset(string name) => !_invalid.Contains(name);

            public FieldValue? Valid(string name) =>
                !_invalid.Contains(name) && _values.TryGetValue(name, out FieldValue? value) ? value : null;
        }
    }
}
