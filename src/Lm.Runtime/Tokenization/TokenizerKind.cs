namespace Lm.Runtime.Tokenization;

/// <summary>The tokenization algorithm behind an <see cref="LmTokenizer"/>.</summary>
public enum TokenizerKind
{
    /// <summary>GPT-2 / RoBERTa byte-level BPE (vocab.json + merges.txt).</summary>
    ByteLevelBpe,

    /// <summary>BERT WordPiece (vocab.txt).</summary>
    WordPiece,

    /// <summary>
    /// Any other tokenizer.json (Llama, Qwen2, Mistral, SentencePiece-converted files …), run step by step:
    /// normalizer, pre-tokenizer, BPE / WordPiece / Unigram model, post-processor, decoder.
    /// </summary>
    TokenizerJson,
}
