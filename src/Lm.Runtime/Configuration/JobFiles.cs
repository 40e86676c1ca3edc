using Lm.Runtime.Data;

namespace Lm.Runtime.Configuration;

/// <summary>
/// Resolves the relative data paths of a job at run time. A job's paths are relative to the folder the job runs
/// from (the project folder for the build, the current directory for the command line); app code names that
/// folder, or gets the current directory.
/// </summary>
public static class JobFiles
{
    /// <summary><paramref name="path"/> when absolute; else under <paramref name="baseDirectory"/> (default: the current directory).</summary>
    public static string Resolve(string path, string? baseDirectory = null) =>
        Path.GetFullPath(Path.Combine(baseDirectory ?? Directory.GetCurrentDirectory(), path));

    /// <summary>Resolves <c>train_file</c> and <c>validation_file</c> of <paramref name="data"/> in place and returns it.</summary>
    public static DataArguments ResolveDataFiles(DataArguments data, string? baseDirectory = null)
    {
        if (data.TrainFile is not null) data.TrainFile = Resolve(data.TrainFile, baseDirectory);
        if (data.ValidationFile is not null) data.ValidationFile = Resolve(data.ValidationFile, baseDirectory);
        return data;
    }
}
