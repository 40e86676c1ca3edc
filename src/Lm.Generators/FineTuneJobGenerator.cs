using System.Collections.Immutable;
using Lm.Generators.Diagnostics;
using Lm.Generators.Emitting;
using Lm.Generators.Model;
using Lm.Generators.Parsing;
using Lm.Generators.Resolution;
using Lm.Generators.Validation;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Lm.Generators
{
    /// <summary>
    /// Turns <c>[FineTuneJob]</c> classes into typed fine-tune configuration, checked at compile time.
    /// Pipeline: parse each class and each <c>&lt;LanguageModelFineTune&gt;</c> item into equatable models, join
    /// every class with its item and validate the result, emit one source file per class; project-wide checks
    /// (duplicate names, items without classes) run on the collected models.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class FineTuneJobGenerator : IIncrementalGenerator
    {
        /// <summary>Names of the pipeline steps, for incrementality tests (<c>trackIncrementalGeneratorSteps</c>).</summary>
        public static class TrackingNames
        {
            public const string JobClasses = "JobClasses";
            public const string JobItems = "JobItems";
            public const string ResolvedJobs = "ResolvedJobs";
            public const string ProjectDiagnostics = "ProjectDiagnostics";
            public const string StrayAttributes = "StrayAttributes";
        }

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<JobClassModel> classes = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    AttributeNames.FineTuneJob,
                    static (node, _) => node is ClassDeclarationSyntax || node is RecordDeclarationSyntax,
                    static (syntax, cancellationToken) => JobClassParser.Parse(syntax, cancellationToken))
                .WithTrackingName(TrackingNames.JobClasses);

            IncrementalValueProvider<ImmutableArray<JobItemModel>> items = context.AdditionalTextsProvider
                .Combine(context.AnalyzerConfigOptionsProvider)
                .Select(static (pair, _) => JobItemReader.Read(pair.Right.GetOptions(pair.Left)))
                .Where(static item => item is not null)
                .Select(static (item, _) => item!)
                .WithTrackingName(TrackingNames.JobItems)
                .Collect();

            IncrementalValuesProvider<ResolvedJob> jobs = classes
                .Combine(items)
                .Select(static (pair, _) => JobResolver.Resolve(pair.Left, pair.Right))
                .WithTrackingName(TrackingNames.ResolvedJobs);

            context.RegisterSourceOutput(jobs, static (output, job) =>
            {
                foreach (DiagnosticInfo diagnostic in job.Diagnostics) output.ReportDiagnostic(diagnostic.ToDiagnostic());
                if (job.Class.CanHaveMembers) output.AddSource(JobSourceEmitter.HintName(job.Class), JobSourceEmitter.Emit(job));
            });

            IncrementalValueProvider<EquatableArray<DiagnosticInfo>> projectDiagnostics = classes
                .Collect()
                .Combine(items)
                .Select(static (pair, _) => ProjectChecker.Check(pair.Left, pair.Right))
                .WithTrackingName(TrackingNames.ProjectDiagnostics);
            context.RegisterSourceOutput(projectDiagnostics, static (output, diagnostics) =>
            {
                foreach (DiagnosticInfo diagnostic in diagnostics) output.ReportDiagnostic(diagnostic.ToDiagnostic());
            });

            RegisterStrayAttributeCheck(context, AttributeNames.TextDataset, "TextDataset");
            RegisterStrayAttributeCheck(context, AttributeNames.Training, "Training");
            RegisterStrayAttributeCheck(context, AttributeNames.ChatDataset, "ChatDataset");
            RegisterStrayAttributeCheck(context, AttributeNames.Lora, "Lora");
            RegisterStrayAttributeCheck(context, AttributeNames.Distributed, "Distributed");
        }

        /// <summary>[TextDataset] or [Training] without [FineTuneJob] would silently do nothing: report it.</summary>
        private static void RegisterStrayAttributeCheck(IncrementalGeneratorInitializationContext context, string metadataName, string shortName)
        {
            IncrementalValuesProvider<DiagnosticInfo> stray = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    metadataName,
                    static (node, _) => node is ClassDeclarationSyntax || node is RecordDeclarationSyntax,
                    (syntax, cancellationToken) => StrayAttributeParser.Check(syntax, shortName, cancellationToken))
                .Where(static diagnostic => diagnostic is not null)
                .Select(static (diagnostic, _) => diagnostic!)
                .WithTrackingName(TrackingNames.StrayAttributes);
            context.RegisterSourceOutput(stray, static (output, diagnostic) => output.ReportDiagnostic(diagnostic.ToDiagnostic()));
        }
    }
}
