using System.Text;
using System.Text.RegularExpressions;
using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization;

public class Gpt2PreTokenizerTests
{
    private static readonly Regex s_gpt2Pattern = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");

    private static string[] Pieces(string text)
    {
        var pieces = new List<string>();
        for (int start = 0; start < text.Length;)
        {
            int length = Gpt2PreTokenizer.NextPieceLength(text, start);
            pieces.Add(text.Substring(start, length));
            start += length;
        }

        return pieces.ToArray();
    }

    [Theory]
    [InlineData("Hello world", new[] { "Hello", " world" })]
    [InlineData("a  b", new[] { "a", " ", " b" })]
    [InlineData("a \n b", new[] { "a", " \n", " b" })]
    [InlineData("x \n\ny", new[] { "x", " \n", "\n", "y" })]
    [InlineData("end   ", new[] { "end", "   " })]
    [InlineData("it's 'sam ?'s", new[] { "it", "'s", " '", "sam", " ?'", "s" })]
    [InlineData("we'll I'M", new[] { "we", "'ll", " I", "'", "M" })]
    [InlineData("1999 -- 2000", new[] { "1999", " --", " 2000" })]
    public void Pieces_follow_the_gpt2_pattern(string text, string[] expected)
    {
        Assert.Equal(expected, Pieces(text));
    }

    [Fact]
    public void Letters_outside_the_basic_plane_are_letters()
    {
        // U+1D400 and U+1D401 are letters (Lu); Python's regex and tokenizers keep them in one piece with the
        // space before them, where a .NET Regex sees surrogates that are neither letters nor numbers.
        Assert.Equal(new[] { "a", " \U0001D400\U0001D401", " \U0001F600!" }, Pieces("a \U0001D400\U0001D401 \U0001F600!"));
    }

    [Fact]
    public void Pieces_equal_the_regex_on_basic_plane_text()
    {
        foreach (string line in TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/train.txt"))
        {
            Assert.Equal(s_gpt2Pattern.Matches(line).Select(m => m.Value), Pieces(line));
        }
    }

    [Fact]
    public void Long_words_merge_to_the_same_ids_through_the_queue_as_by_scanning()
    {
        var model = ((ByteLevelBpeTokenizer)LmTokenizer.Gpt2()).Model;
        var words = TokenizerTestFiles.CorpusLines("wikitext-2-raw/sample/train.txt", 200)
            .SelectMany(line => s_gpt2Pattern.Matches(line).Select(m => m.Value))
            .Append(new string('=', 300))
            .Append(string.Concat(Enumerable.Repeat("abracadabra", 40)));
        foreach (string word in words)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(word);
            var scanned = new int[bytes.Length];
            var queued = new int[bytes.Length];
            int scannedCount = model.MergePiece(bytes, scanned);
            int queuedCount = model.MergePiece(bytes, queued, quadraticLimit: 0);
            Assert.Equal(scanned[..scannedCount], queued[..queuedCount]);
        }
    }
}
