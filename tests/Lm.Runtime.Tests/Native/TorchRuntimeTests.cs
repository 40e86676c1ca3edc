using Lm.Runtime.Native;
using static TorchSharp.torch;

namespace Lm.Runtime.Tests.Native;

public class TorchRuntimeTests
{
    [Fact]
    public void Libtorch_computes_after_loading()
    {
        TorchRuntime.EnsureLoaded();
        using var a = tensor(new float[] { 1, 2, 3 });
        using var b = a.mul(2).sum();
        Assert.Equal(12f, b.item<float>());
        Assert.Contains(TorchRuntime.LoadTrace, l => l.Contains("TorchSharp ready"));
    }

    [Fact]
    public void Bridge_version_needs_are_readable_and_weakening_sets_the_flag()
    {
        string bridge = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        byte[] elf = File.ReadAllBytes(bridge);
        var needs = ElfVersionPatcher.ReadVersionNeeds(elf);
        Assert.Contains(needs, n => n.File == "libstdc++.so.6" && n.Version == "GLIBCXX_3.4.32" && !n.Weak);

        byte[] patched = ElfVersionPatcher.WeakenVersions(elf, new[] { "GLIBCXX_3.4.32" });
        var after = ElfVersionPatcher.ReadVersionNeeds(patched);
        Assert.True(after.Single(n => n.Version == "GLIBCXX_3.4.32").Weak);
        Assert.All(after.Where(n => n.Version != "GLIBCXX_3.4.32"), n => Assert.False(n.Weak));
        // Exactly one byte differs: the flags field of that one requirement.
        Assert.Equal(1, elf.Zip(patched).Count(p => p.First != p.Second));
    }

    [Fact]
    public void A_version_used_by_relocations_is_never_weakened()
    {
        byte[] elf = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so"));
        // GLIBC_2.2.5 binds malloc, free and friends: making it optional would be unsafe.
        var e = Assert.Throws<InvalidOperationException>(() => ElfVersionPatcher.WeakenVersions(elf, new[] { "GLIBC_2.2.5" }));
        Assert.Contains("relocated symbols", e.Message);
    }
}
