namespace Lm.Runtime.Hub;

/// <summary>
/// Where and how the Hugging Face hub is reached, read from the same environment variables as
/// <c>huggingface_hub</c>: <c>HF_ENDPOINT</c>, <c>HF_HOME</c>, <c>HF_HUB_CACHE</c>, <c>HF_HUB_OFFLINE</c>,
/// <c>HF_TOKEN</c> (else the token file <c>$HF_HOME/token</c>).
/// </summary>
public sealed record HubSettings
{
    /// <summary>The hub's base address; <c>https://huggingface.co</c> unless <c>HF_ENDPOINT</c> says otherwise.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The cache root holding <c>models--org--name</c> folders.</summary>
    public required string CacheDir { get; init; }

    /// <summary>Never touch the network; only cached files are used.</summary>
    public bool Offline { get; init; }

    /// <summary>
    /// Sent as <c>Authorization: Bearer</c> to the endpoint's host only, and only over https or to this machine
    /// (<c>localhost</c>, 127.0.0.0/8, <c>::1</c>): a plain http endpoint elsewhere is refused with LM0523 rather
    /// than given the token in clear text.
    /// </summary>
    public string? Token { get; init; }

    /// <summary><c>HF_HOME</c>, else <c>$XDG_CACHE_HOME/huggingface</c>, else <c>~/.cache/huggingface</c>.</summary>
    public static string HfHome
    {
        get
        {
            string? home = Environment.GetEnvironmentVariable("HF_HOME");
            if (!string.IsNullOrEmpty(home)) return Expand(home);
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string cache = !string.IsNullOrEmpty(xdg)
                ? Expand(xdg)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(cache, "huggingface");
        }
    }

    /// <summary><c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>.</summary>
    public static string DefaultCacheDir
    {
        get
        {
            string? hubCache = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
            return !string.IsNullOrEmpty(hubCache) ? Expand(hubCache) : Path.Combine(HfHome, "hub");
        }
    }

    /// <summary>Settings from the environment; <paramref name="cacheDir"/> (run_clm.py's <c>cache_dir</c>) wins over it.</summary>
    public static HubSettings FromEnvironment(string? cacheDir = null)
    {
        string endpoint = Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } e ? e : "https://huggingface.co";
        return new HubSettings
        {
            Endpoint = endpoint.TrimEnd('/'),
            CacheDir = !string.IsNullOrEmpty(cacheDir) ? Expand(cacheDir) : DefaultCacheDir,
            Offline = IsTrue(Environment.GetEnvironmentVariable("HF_HUB_OFFLINE")),
            Token = ReadToken(),
        };
    }

    private static string? ReadToken()
    {
        string? token = Environment.GetEnvironmentVariable("HF_TOKEN");
        if (!string.IsNullOrWhiteSpace(token)) return token.Trim();
        string tokenFile = Path.Combine(HfHome, "token");
        try
        {
            return File.Exists(tokenFile) && File.ReadAllText(tokenFile).Trim() is { Length: > 0 } stored ? stored : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>huggingface_hub's truthy environment values.</summary>
    private static bool IsTrue(string? value) =>
        value is not null && value.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    private static string Expand(string path) =>
        path.StartsWith('~') ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..] : path;
}
