using System;
using System.IO;
using System.Linq;
using Lm.Schema;
using Lm.Generators.Model;
using Lm.Generators.Schema;

namespace Lm.Generators.Emitting
{
    /// <summary>
    /// Writes the typed loaders of a job's declared data: one <c>Open…File()</c> per declared file (with its format,
    /// text column and line handling baked in), <c>OpenSplits()</c>, and <c>PrepareData()</c> for the job's
    /// objective when it is known at compile time (explicit, or from a known model).
    /// </summary>
    internal static class DatasetLoaderEmitter
    {
        private const string TextSource = "global::Lm.Runtime.Data.TextSource";
        private const string DatasetSplits = "global::Lm.Runtime.Data.DatasetSplits";
        private const string DataPipeline = "global::Lm.Runtime.Data.DataPipeline";
        private const string PreparedData = "global::Lm.Runtime.Data.PreparedData";
        private const string TextEncoder = "global::Lm.Runtime.Data.ITextEncoder";
        private const string DataObjective = "global::Lm.Runtime.Data.DataObjective";
        private const string JobFiles = "global::Lm.Runtime.Configuration.JobFiles";
        private const string BaseDirectoryDoc =
            "<param name=\"baseDirectory\">The folder relative paths start from; the current directory when null.</param>";

        public static void Write(SourceWriter writer, ResolvedJob job)
        {
            string? trainFile = Value(job, "train_file");
            string? validationFile = Value(job, "validation_file");
            if (trainFile is null && validationFile is null && Value(job, "dataset_name") is null) return;

            // A loader of a job whose objective the compiler cannot know takes it as a parameter.
            string? objective = Objective(job);
            string objectiveParameter = objective is null ? DataObjective + " objective, " : "";
            string objectiveArgument = objective is null ? "objective" : DataObjective + "." + (objective == "clm" ? "Clm" : "Mlm");

            // run_clm.py keeps line breaks per keep_linebreaks; run_mlm.py never passes it, so the text builder drops them.
            bool keepOption = Value(job, "keep_linebreaks") != "false";
            string keepLinebreaks = objective == "mlm" || !keepOption ? "false"
                : objective == "clm" ? "true"
                : "objective == " + DataObjective + ".Clm";
            string? column = Value(job, "text_column");
            if (trainFile is not null) WriteOpenFile(writer, "OpenTrainFile", "train", trainFile, column, objectiveParameter, keepLinebreaks);
            if (validationFile is not null) WriteOpenFile(writer, "OpenValidationFile", "validation", validationFile, column, objectiveParameter, keepLinebreaks);

            writer.Line("/// <summary>The job's train and validation splits as run_clm.py and run_mlm.py load them (validation from part of train when no file gives it).</summary>")
                .Line("/// " + BaseDirectoryDoc)
                .Line("public static " + DatasetSplits + " OpenSplits(" + objectiveParameter + "string? baseDirectory = null) =>")
                .Line("    " + DataPipeline + ".OpenSplits(" + JobFiles + ".ResolveDataFiles(CreateDataArguments(), baseDirectory), objective: " + objectiveArgument + ");")
                .Line();

            bool validation = validationFile is not null || Value(job, "dataset_name") is not null || Value(job, "validation_split_percentage") != "0";
            writer.Line("/// <summary>")
                .Line("/// Tokenizes, groups and caches the job's data for " + (objective is null ? "<paramref name=\"objective\"/>" : "its objective (" + objective + ")")
                      + ", as run_" + (objective ?? "clm") + ".py preprocesses it: the train split" + (validation ? " and the validation split." : "."))
                .Line("/// </summary>")
                .Line("/// " + BaseDirectoryDoc)
                .Line("public static " + PreparedData + " PrepareData(" + TextEncoder + " encoder, " + objectiveParameter
                      + "string? baseDirectory = null, int? maxPositionEmbeddings = null, string? cacheRoot = null, global::System.Action<string>? log = null) =>")
                .Line("    " + DataPipeline + ".Prepare(" + JobFiles + ".ResolveDataFiles(CreateDataArguments(), baseDirectory), encoder, " + objectiveArgument
                      + ", train: " + (trainFile is not null || Value(job, "dataset_name") is not null ? "true" : "false")
                      + ", validation: " + (validation ? "true" : "false")
                      + ", maxPositionEmbeddings: maxPositionEmbeddings, cacheRoot: cacheRoot, log: log);")
                .Line();
        }

        private static void WriteOpenFile(SourceWriter writer, string method, string split, string path, string? column, string objectiveParameter, string keepLinebreaks)
        {
            writer.Line("/// <summary>The " + split + " file <c>" + Escape(path) + "</c> (" + Describe(path, column, keepLinebreaks) + "), opened as run_clm.py and run_mlm.py load it.</summary>")
                .Line("/// " + BaseDirectoryDoc)
                .Line("public static " + TextSource + " " + method + "(" + objectiveParameter + "string? baseDirectory = null) =>")
                .Line("    " + TextSource + ".FromFile(" + JobFiles + ".Resolve(" + Literals.CSharpString(path) + ", baseDirectory), "
                      + (column is null ? "null" : Literals.CSharpString(column)) + ", " + keepLinebreaks + ");")
                .Line();
        }

        /// <summary>The objective the job trains with, when the compiler can know it; null otherwise.</summary>
        public static string? Objective(ResolvedJob job)
        {
            if (Value(job, "objective") is string objective) return objective;
            if (Value(job, "model_name_or_path") is string model && KnownModels.ByName.TryGetValue(model, out ArchitectureRow? family)) return family.Objective;
            if (Value(job, "model_type") is string type && KnownModels.ByModelType.TryGetValue(type, out ArchitectureRow? typeFamily)) return typeFamily.Objective;
            return null;
        }

        private static string Describe(string path, string? column, string keepLinebreaks)
        {
            string extension = Path.GetExtension(path).ToLowerInvariant();
            switch (extension)
            {
                case ".txt":
                case ".text":
                case ".raw":
                case ".tokens":
                    return "text: one row per line" + (keepLinebreaks == "true" ? ", keeping its line break"
                        : keepLinebreaks == "false" ? "" : ", keeping its line break for clm");
                default:
                    string format = extension.TrimStart('.');
                    return format + ": " + (column is null ? "column <c>text</c>, else the first column" : "column <c>" + Escape(column) + "</c>");
            }
        }

        private static string? Value(ResolvedJob job, string name) => job.Values.FirstOrDefault(v => v.Name == name)?.Text;

        private static string Escape(string text) =>
            text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\n", " ").Replace("\r", " ");
    }
}
