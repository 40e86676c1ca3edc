namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>A push to the hub failed: a 5xx answer, a network error, or an answer that is not the hub's.</summary>
    public const string HubPushFailed = "LM0540";
    /// <summary>The hub refused the token (401): it is invalid or expired.</summary>
    public const string HubPushUnauthorized = "LM0541";
    /// <summary>The token may not write to the repository or namespace (403).</summary>
    public const string HubPushForbidden = "LM0542";
    /// <summary>The hub does not know the repository or branch pushed to (404).</summary>
    public const string HubPushNotFound = "LM0543";
    /// <summary>The hub refused a commit that conflicts with the repository (409).</summary>
    public const string HubPushConflict = "LM0544";
    /// <summary><c>push_to_hub</c> without a token: no <c>--hub-token</c>, <c>HF_TOKEN</c> or <c>$HF_HOME/token</c>.</summary>
    public const string HubTokenMissing = "LM0545";
    /// <summary><c>hub_model_id</c> (or the output folder's name it defaults to) is not a hub repository id.</summary>
    public const string InvalidHubModelId = "LM0546";
}
