using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Lm.Runtime.Tokenization.TokenizerJson;

/// <summary>
/// A tokenizer.json <c>decoder</c> (tokenizers' <c>decoders/*.rs</c>): each step maps the list of token strings to
/// a new list (<c>decode_chain</c>); the text is the final list joined.
/// </summary>
internal abstract class TokenDecoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    public string Decode(IReadOnlyList<string> tokens) => string.Concat(DecodeChain([.. tokens]));

    public static TokenDecoder? Read(JsonNode? node, string path)
    {
        if (node is null)
        {
            return null;
        }

        const string Part = "decoder";
        string type = TokenizerJsonValues.Type(node, path, Part);
        return type switch
        {
            "ByteLevel" => new ByteLevelDecoder(),
            "Metaspace" => new MetaspaceDecoder(
                TokenizerJsonValues.Character(node, "replacement", path, Part, "▁"),
                MetaspacePreTokenizer.ReadPrependScheme(node, path) != MetaspacePreTokenizer.PrependScheme.Never),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(
                char.ConvertToUtf32(TokenizerJsonValues.Character(node, "content", path, Part, " "), 0),
                TokenizerJsonValues.Int(node, "start") ?? 0,
                TokenizerJsonValues.Int(node, "stop") ?? 0),
            "Replace" => new ReplaceDecoder(
                TokenizerJsonValues.ReadPattern(node["pattern"], path, Part),
                TokenizerJsonValues.String(node, "content", path, Part)),
            "WordPiece" => new WordPieceDecoder(
                TokenizerJsonValues.OptionalString(node, "prefix") ?? "##",
                TokenizerJsonValues.Bool(node, "cleanup") ?? true),
            "BPEDecoder" => new BpeSuffixDecoder(TokenizerJsonValues.OptionalString(node, "suffix") ?? "</w>"),
            "Sequence" => new SequenceDecoder(
                TokenizerJsonValues.Array(node, "decoders", path, Part).Select(step => Read(step, path)!).ToArray()),
            _ => throw TokenizerJsonValues.Unsupported(path, Part, type),
        };
    }
}

/// <summary>
/// All tokens to bytes through GPT-2's byte alphabet (a token with a character outside it contributes its own
/// UTF-8), read as UTF-8 with U+FFFD for invalid sequences.
/// </summary>
internal sealed class ByteLevelDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens) => [DecodeBytes(tokens)];

    public static string DecodeBytes(IReadOnlyList<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            int before = bytes.Count;
            foreach (char c in token)
            {
                if (!ByteLevelAlphabet.TryGetByte(c, out byte b))
                {
                    bytes.RemoveRange(before, bytes.Count - before);
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
                    break;
                }

                bytes.Add(b);
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}

/// <summary>The replacement character back to a space; in the first token it is dropped unless the scheme is never.</summary>
internal sealed class MetaspaceDecoder(string replacement, bool prependsSpace) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            result.Add(tokens[i].Replace(replacement, i == 0 && prependsSpace ? string.Empty : " ", StringComparison.Ordinal));
        }

        return result;
    }
}

/// <summary>
/// Runs of <c>&lt;0xAB&gt;</c> tokens become the text their bytes spell; a run that is not valid UTF-8 becomes one
/// U+FFFD per byte.
/// </summary>
internal sealed class ByteFallbackDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0)
            {
                return;
            }

            try
            {
                result.Add(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(pending.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                result.AddRange(Enumerable.Repeat("\uFFFD", pending.Count));
            }

            pending.Clear();
        }

        foreach (string token in tokens)
        {
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token.EndsWith('>')
                && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte value))
            {
                pending.Add(value);
            }
            else
            {
                Flush();
                result.Add(token);
            }
        }

        Flush();
        return result;
    }
}

internal sealed class FuseDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing occurrences of one character from every token.</summary>
internal sealed class StripDecoder(int content, int start, int stop) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        foreach (string token in tokens)
        {
            Rune[] runes = token.EnumerateRunes().ToArray();
            int from = 0;
            while (from < Math.Min(start, runes.Length) && runes[from].Value == content)
            {
                from++;
            }

            int to = runes.Length;
            for (int i = 0; i < stop && to - 1 >= 0 && runes[to - 1].Value == content; i++)
            {
                to--;
            }

            result.Add(from >= to ? string.Empty : string.Concat(runes[from..to].Select(r => r.ToString())));
        }

        return result;
    }
}

internal sealed class ReplaceDecoder(OnigurumaRegex pattern, string content) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t => pattern.Replace(t, content)).ToList();
}

/// <summary>A token with the prefix joins the one before it, any other token after the first gets a space; optional cleanup.</summary>
internal sealed class WordPieceDecoder(string prefix, bool cleanup) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            if (i > 0)
            {
                int at = token.IndexOf(prefix, StringComparison.Ordinal);
                token = token.StartsWith(prefix, StringComparison.Ordinal) ? token.Remove(at, prefix.Length) : " " + token;
            }

            result.Add(cleanup ? WordPieceTokenizer.CleanUp(token, doNot: true) : token);
        }

        return result;
    }
}

/// <summary>The end-of-word suffix becomes a space (nothing after the last token).</summary>
internal sealed class BpeSuffixDecoder(string suffix) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens) =>
        tokens.Select((t, i) => t.Replace(suffix, i == tokens.Count - 1 ? string.Empty : " ", StringComparison.Ordinal)).ToList();
}

internal sealed class SequenceDecoder(TokenDecoder[] steps) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (TokenDecoder step in steps)
        {
            tokens = step.DecodeChain(tokens);
        }

        return tokens;
    }
}
