using System.Net;
using System.Net.Http.Headers;
using Lm.Runtime.Errors;

namespace Lm.Runtime.Hub;

/// <summary>
/// Where a hub token may travel: to the endpoint's own host and port only (a CDN or LFS storage address the hub
/// redirects to never sees it), and over plain http only to this machine. Downloads and pushes share this rule.
/// </summary>
internal static class HubAuthorization
{
    /// <summary>
    /// Adds <c>Authorization: Bearer</c> to <paramref name="request"/> when <paramref name="token"/> is set and the
    /// request goes to <paramref name="endpoint"/>'s host; LM0523 when that is plain http to another machine.
    /// </summary>
    public static void Apply(HttpRequestMessage request, Uri endpoint, string endpointText, string? token)
    {
        var address = request.RequestUri!;
        if (token is null || !SameOrigin(address, endpoint)) return;
        // Refused rather than silently dropped: a user who set a token expects it to be used, and a
        // request without it would fail later with a less helpful "not found".
        if (address.Scheme != Uri.UriSchemeHttps && !IsLoopback(address))
            throw new LmException(ErrorCodes.TokenOverPlainHttp,
                $"a hub token (--hub-token, HF_TOKEN or $HF_HOME/token) is set and HF_ENDPOINT {endpointText} is plain {address.Scheme} to {address.Host}, " +
                "which is not this machine: the token would travel in clear text, so nothing was sent. " +
                "Use an https:// endpoint, or remove the token for this endpoint");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>Whether <paramref name="address"/> is on the endpoint's host and port.</summary>
    public static bool SameOrigin(Uri address, Uri endpoint) => address.Host == endpoint.Host && address.Port == endpoint.Port;

    /// <summary>This machine: <c>localhost</c>, 127.0.0.0/8 or ::1. Only there may a token travel over plain http.</summary>
    public static bool IsLoopback(Uri address) =>
        string.Equals(address.IdnHost.TrimEnd('.'), "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(address.IdnHost.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
