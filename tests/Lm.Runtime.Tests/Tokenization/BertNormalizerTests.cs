using Lm.Runtime.Tokenization;

namespace Lm.Runtime.Tests.Tokenization;

public class BertNormalizerTests
{
    private static readonly BertNormalizer s_uncased = new(CleanText: true, HandleChineseChars: true, StripAccents: null, Lowercase: true);
    private static readonly BertNormalizer s_cased = new(CleanText: true, HandleChineseChars: true, StripAccents: null, Lowercase: false);

    [Theory]
    [InlineData("Héllo Wörld Ångström", "hello world angstrom")]
    [InlineData("ǖ \u2126", "u \u03c9")]
    [InlineData("한국어", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165")]
    [InlineData("中文x", " 中  文 x")]
    [InlineData("a\u200bb\u0000c\ufffd\td\u000be\u00a0f", "abc de f")]
    [InlineData("\ufb01 ÇA", "\ufb01 ca")]
    public void Uncased_normalization_cleans_spaces_cjk_strips_accents_and_lowercases(string text, string expected)
    {
        Assert.Equal(expected, s_uncased.Normalize(text));
    }

    [Fact]
    public void Cased_normalization_keeps_accents_and_case()
    {
        Assert.Equal("Héllo Wörld", s_cased.Normalize("Héllo\tWörld"));
    }

    [Fact]
    public void Dotted_capital_i_lowercases_to_i_and_combining_dot_without_accent_stripping()
    {
        var lowercaseOnly = s_uncased with { StripAccents = false };
        Assert.Equal("i\u0307stanbul", lowercaseOnly.Normalize("İstanbul"));
        Assert.Equal("istanbul", s_uncased.Normalize("İstanbul"));
    }
}
