using System.Text;

namespace Lm.Generators.Emitting
{
    /// <summary>Writes indented source lines (four spaces per level, <c>\n</c> line ends on every platform).</summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _builder = new StringBuilder();
        private int _indent;

        public SourceWriter Line(string text = "")
        {
            if (text.Length > 0) _builder.Append(' ', _indent * 4).Append(text);
            _builder.Append('\n');
            return this;
        }

        public SourceWriter Open(string header)
        {
            Line(header);
            Line("{");
            _indent++;
            return this;
        }

        public SourceWriter Close(string closing = "}")
        {
            _indent--;
            return Line(closing);
        }

        public override string ToString() => _builder.ToString();
    }
}
