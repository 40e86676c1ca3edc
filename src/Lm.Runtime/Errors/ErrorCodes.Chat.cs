namespace Lm.Runtime.Errors;

public static partial class ErrorCodes
{
    /// <summary>A chat template uses Jinja syntax outside the subset lm-tune renders; the message names it and its position.</summary>
    public const string ChatTemplateUnsupported = "LM0330";

    /// <summary>A chat template is not well-formed Jinja (an unclosed tag, a missing endfor, a stray token).</summary>
    public const string ChatTemplateSyntax = "LM0331";

    /// <summary>Rendering a chat template failed (an attribute of an undefined value, adding a string to a number).</summary>
    public const string ChatTemplateRenderFailed = "LM0332";

    /// <summary>The chat template refused the conversation with <c>raise_exception</c>; the message is the template's.</summary>
    public const string ChatTemplateRaised = "LM0333";

    /// <summary>Chat data or <c>generate --chat</c> needs a chat template, and the tokenizer has none and no <c>--chat-template</c> was given.</summary>
    public const string ChatTemplateMissing = "LM0334";

    /// <summary>A chat or instruction row is malformed (messages not a list of role/content objects, a field of the wrong type).</summary>
    public const string ChatRowInvalid = "LM0335";

    /// <summary>The rows of a data file match none of the supported formats (messages, prompt/completion, instruction/output).</summary>
    public const string ChatFormatUnknown = "LM0336";

    /// <summary>With assistant-only loss, an example holds no assistant token (TRL refuses such data too).</summary>
    public const string NoAssistantTokens = "LM0337";

    /// <summary>A chat data option does not fit the data (assistant_only_loss on non-conversational rows, packing without a length).</summary>
    public const string ChatOptionConflict = "LM0338";

    /// <summary>The <c>--chat-template</c> file does not exist or cannot be read.</summary>
    public const string ChatTemplateFileNotFound = "LM0339";
}
