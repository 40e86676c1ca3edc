using System.Buffers.Binary;
using System.Text;

namespace Lm.Runtime.Native;

/// <summary>
/// Marks chosen symbol-version requirements of an ELF64 shared library as weak (VER_FLG_WEAK in
/// <c>.gnu.version_r</c>), so the dynamic loader accepts a system library that lacks that version.
/// TorchSharp 0.107's libLibTorchSharp.so asks for GLIBCXX_3.4.32 (GCC 13) only because of
/// <c>_ZSt21ios_base_library_initv</c>, a symbol no relocation uses; Debian 12 and Ubuntu 22.04 ship 3.4.30.
/// A version is only weakened when no relocation binds a symbol of that version: weakening a version that
/// a relocation does use would turn a clear load error into a crash later.
/// </summary>
public static class ElfVersionPatcher
{
    private const ushort VerFlgWeak = 0x2;
    private const uint ShtDynsym = 11;
    private const uint ShtRela = 4;
    private const uint ShtGnuVersym = 0x6fffffff;
    private const uint ShtGnuVerneed = 0x6ffffffe;

    /// <summary>A version requirement found in the library.</summary>
    public sealed record VersionNeed(string File, string Version, ushort Index, bool Weak, long FlagsOffset);

    /// <summary>Lists the version requirements of an ELF64 little-endian file.</summary>
    public static IReadOnlyList<VersionNeed> ReadVersionNeeds(byte[] elf)
    {
        var sections = ReadSections(elf);
        var verneed = sections.FirstOrDefault(s => s.Type == ShtGnuVerneed)
            ?? throw new InvalidDataException("no .gnu.version_r section");
        var strtab = sections[(int)verneed.Link];
        var result = new List<VersionNeed>();
        long offset = verneed.Offset;
        while (true)
        {
            ushort count = U16(elf, offset + 2);
            string file = ReadString(elf, strtab.Offset + U32(elf, offset + 4));
            long aux = offset + U32(elf, offset + 8);
            for (int i = 0; i < count; i++)
            {
                ushort flags = U16(elf, aux + 4);
                ushort other = U16(elf, aux + 6);
                string name = ReadString(elf, strtab.Offset + U32(elf, aux + 8));
                result.Add(new VersionNeed(file, name, other, (flags & VerFlgWeak) != 0, aux + 4));
                uint nextAux = U32(elf, aux + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            uint next = U32(elf, offset + 12);
            if (next == 0) break;
            offset += next;
        }
        return result;
    }

    /// <summary>
    /// Returns a copy of <paramref name="elf"/> with the named versions marked weak, or throws
    /// <see cref="InvalidOperationException"/> when a relocation uses a symbol of one of them.
    /// </summary>
    public static byte[] WeakenVersions(byte[] elf, IReadOnlyCollection<string> versions)
    {
        var needs = ReadVersionNeeds(elf);
        var sections = ReadSections(elf);
        var copy = (byte[])elf.Clone();
        foreach (string version in versions)
        {
            var need = needs.FirstOrDefault(n => n.Version == version)
                ?? throw new InvalidOperationException($"the library does not require {version}");
            var used = SymbolsOfVersionUsedByRelocations(elf, sections, need.Index);
            if (used.Count > 0)
                throw new InvalidOperationException(
                    $"{version} is needed by relocated symbols ({string.Join(", ", used.Take(5))}); it cannot be made optional");
            ushort flags = U16(copy, need.FlagsOffset);
            BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)need.FlagsOffset), (ushort)(flags | VerFlgWeak));
        }
        return copy;
    }

    private static List<string> SymbolsOfVersionUsedByRelocations(byte[] elf, IReadOnlyList<Section> sections, ushort versionIndex)
    {
        var dynsym = sections.First(s => s.Type == ShtDynsym);
        var versym = sections.First(s => s.Type == ShtGnuVersym);
        var dynstr = sections[(int)dynsym.Link];
        long symbolCount = dynsym.Size / 24;
        var symbolsOfVersion = new HashSet<long>();
        for (long i = 0; i < symbolCount; i++)
        {
            ushort v = (ushort)(U16(elf, versym.Offset + i * 2) & 0x7fff);
            if (v == versionIndex) symbolsOfVersion.Add(i);
        }
        var used = new List<string>();
        foreach (var rela in sections.Where(s => s.Type == ShtRela && s.Link < sections.Count && sections[(int)s.Link].Type == ShtDynsym))
        {
            for (long r = 0; r < rela.Size / 24; r++)
            {
                ulong info = U64(elf, rela.Offset + r * 24 + 8);
                long symbol = (long)(info >> 32);
                if (symbolsOfVersion.Contains(symbol))
                    used.Add(ReadString(elf, dynstr.Offset + U32(elf, dynsym.Offset + symbol * 24)));
            }
        }
        return used;
    }

    private sealed record Section(uint Type, long Offset, long Size, uint Link);

    private static List<Section> ReadSections(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF is supported");
        long shoff = (long)U64(elf, 0x28);
        ushort shentsize = U16(elf, 0x3a);
        ushort shnum = U16(elf, 0x3c);
        var sections = new List<Section>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            long h = shoff + (long)i * shentsize;
            sections.Add(new Section(U32(elf, h + 4), (long)U64(elf, h + 0x18), (long)U64(elf, h + 0x20), U32(elf, h + 0x28)));
        }
        return sections;
    }

    private static ushort U16(byte[] b, long o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(checked((int)o), 2));
    private static uint U32(byte[] b, long o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(checked((int)o), 4));
    private static ulong U64(byte[] b, long o) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(checked((int)o), 8));

    private static string ReadString(byte[] b, long o)
    {
        int start = checked((int)o);
        int end = Array.IndexOf(b, (byte)0, start);
        return Encoding.ASCII.GetString(b, start, end - start);
    }
}
