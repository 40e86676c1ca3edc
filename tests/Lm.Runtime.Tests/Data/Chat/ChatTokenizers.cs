using System.Text.Json.Nodes;
using Lm.Runtime.Tests.Tokenization;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Data.Chat;

/// <summary>
/// GPT-2's byte-level BPE with ChatML's two special tokens added (ids 50257 and 50258, as SmolLM2 and Qwen add
/// theirs) and a chat template in tokenizer_config.json, read back through <see cref="LmTokenizer.FromPretrained"/>.
/// </summary>
internal static class ChatTokenizers
{
    public const int ImStart = 50257;
    public const int ImEnd = 50258;

    public static LmTokenizer ChatMl(string? chatTemplate, bool eosIsImEnd = true)
    {
        using var folder = TokenizerTestFiles.NewFolder();
        LmTokenizer.Gpt2().Save(folder.Path);
        string configPath = Path.Combine(folder.Path, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        var decoder = config["added_tokens_decoder"]!.AsObject();
        decoder[ImStart.ToString()] = Token("<|im_start|>");
        decoder[ImEnd.ToString()] = Token("<|im_end|>");
        if (eosIsImEnd) config["eos_token"] = "<|im_end|>";
        if (chatTemplate is not null) config["chat_template"] = chatTemplate;
        File.WriteAllText(configPath, config.ToJsonString());
        File.Delete(Path.Combine(folder.Path, "special_tokens_map.json"));
        return LmTokenizer.FromPretrained(folder.Path);
    }

    private static JsonObject Token(string content) => new()
    {
        ["content"] = content, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["single_word"] = false, ["special"] = true,
    };
}
