#if !NET
using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

// The .NET Core APIs the tasks use, for their net472 build (Visual Studio's MSBuild runs on .NET Framework). Each
// member does what the .NET 10 member does for the arguments the tasks pass; the net10.0 build never compiles this
// file. C# 14 extension members let the callers stay as they are, in both builds.

internal static class NetFrameworkPolyfills
{
    extension<TKey, TValue>(KeyValuePair<TKey, TValue> pair)
    {
        public void Deconstruct(out TKey key, out TValue value)
        {
            key = pair.Key;
            value = pair.Value;
        }
    }

    extension(string text)
    {
        public bool StartsWith(char value) => text.Length > 0 && text[0] == value;

        public bool EndsWith(char value) => text.Length > 0 && text[text.Length - 1] == value;

        public bool Contains(char value) => text.IndexOf(value) >= 0;

        /// <summary>.NET's Split(char, options), with <c>TrimEntries</c> (4 flag value 2) applied before empty entries are removed.</summary>
        public string[] Split(char separator, StringSplitOptions options)
        {
            var parts = text.Split(separator).AsEnumerable();
            if (((int)options & 2) != 0) parts = parts.Select(p => p.Trim());
            if ((options & StringSplitOptions.RemoveEmptyEntries) != 0) parts = parts.Where(p => p.Length > 0);
            return parts.ToArray();
        }

        public static string Create(IFormatProvider provider, FormattableString formattable) => formattable.ToString(provider);
    }

    extension(StringSplitOptions)
    {
        /// <summary>Understood by the Split above only; .NET Framework's own Split rejects it.</summary>
        public static StringSplitOptions TrimEntries => (StringSplitOptions)2;
    }

    extension(int)
    {
        public static bool TryParse(ReadOnlySpan<char> text, NumberStyles style, IFormatProvider provider, out int result) =>
            int.TryParse(text.ToString(), style, provider, out result);
    }

    extension<T>(IEnumerable<T> source)
    {
        public IOrderedEnumerable<T> Order() => source.OrderBy(x => x);

        public IOrderedEnumerable<T> Order(IComparer<T>? comparer) => source.OrderBy(x => x, comparer);
    }

    extension<T>(Queue<T> queue)
    {
        public bool TryDequeue(out T result)
        {
            if (queue.Count == 0)
            {
                result = default!;
                return false;
            }
            result = queue.Dequeue();
            return true;
        }
    }

    extension(DirectoryInfo directory)
    {
        /// <summary>Non-null for a symbolic link or junction (a reparse point), as .NET's LinkTarget is for links.</summary>
        public string? LinkTarget => (directory.Attributes & FileAttributes.ReparsePoint) != 0 ? directory.FullName : null;
    }

    extension(Environment)
    {
        public static int ProcessId
        {
            get
            {
                using var current = Process.GetCurrentProcess();
                return current.Id;
            }
        }
    }

    extension(File)
    {
        public static void Move(string source, string destination, bool overwrite)
        {
            if (overwrite && File.Exists(destination)) File.Replace(source, destination, null);
            else File.Move(source, destination);
        }
    }

    extension(Path)
    {
        public static string GetFullPath(string path, string basePath) =>
            Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(basePath, path));
    }

    extension(SHA256)
    {
        public static byte[] HashData(byte[] data)
        {
            using var sha = SHA256.Create();
            return sha.ComputeHash(data);
        }
    }

    extension(Convert)
    {
        public static string ToHexStringLower(byte[] bytes)
        {
            var hex = new StringBuilder(bytes.Length * 2);
            foreach (byte b in bytes) hex.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            return hex.ToString();
        }
    }

    extension(Process process)
    {
        public bool WaitForExit(TimeSpan timeout) => process.WaitForExit((int)Math.Min(int.MaxValue, timeout.TotalMilliseconds));

        /// <summary>On Windows (where .NET Framework runs), taskkill ends the process and its descendants.</summary>
        public void Kill(bool entireProcessTree)
        {
            if (!entireProcessTree || !OperatingSystem.IsWindows())
            {
                process.Kill();
                return;
            }
            var taskkill = new ProcessStartInfo("taskkill", "/PID " + process.Id.ToString(CultureInfo.InvariantCulture) + " /T /F")
            {
                UseShellExecute = false,
                CreateNoWindow = true,
            };
            using var killer = Process.Start(taskkill);
            killer?.WaitForExit(30_000);
        }
    }

    extension(ProcessStartInfo startInfo)
    {
        /// <summary>The arguments as a list; each change rewrites <see cref="ProcessStartInfo.Arguments"/>, quoted as .NET quotes them.</summary>
        public Collection<string> ArgumentList => ArgumentLists.GetValue(startInfo, info => new ArgumentCollection(info));
    }

    private static readonly ConditionalWeakTable<ProcessStartInfo, ArgumentCollection> ArgumentLists = new();

    private sealed class ArgumentCollection(ProcessStartInfo startInfo) : Collection<string>
    {
        protected override void InsertItem(int index, string item)
        {
            base.InsertItem(index, item);
            startInfo.Arguments = string.Join(" ", this.Select(Quote));
        }

        // The Windows command-line rule .NET's ArgumentList follows (PasteArguments): quote when empty or when
        // whitespace or a quote is present; backslashes before a quote are doubled.
        private static string Quote(string argument)
        {
            if (argument.Length > 0 && !argument.Any(c => char.IsWhiteSpace(c) || c == '"')) return argument;
            var quoted = new StringBuilder("\"");
            int backslashes = 0;
            foreach (char c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }
                quoted.Append('\\', c == '"' ? backslashes * 2 + 1 : backslashes).Append(c);
                backslashes = 0;
            }
            return quoted.Append('\\', backslashes * 2).Append('"').ToString();
        }
    }
}
#endif
