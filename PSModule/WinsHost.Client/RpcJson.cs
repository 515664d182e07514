using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Numerics;
using System.Text;

namespace WinsHost
{
    /// <summary>
    /// JSON for the broker protocol. Parsing gives what ConvertFrom-Json gives the rest of the module (objects as
    /// PSCustomObject, arrays as object[], integers as long, other numbers as double, strings left as strings as
    /// Windows PowerShell does, no date guessing); writing takes what the module builds requests from
    /// (dictionaries, lists, strings, numbers, booleans, PSCustomObjects). Both run on every message, so they are
    /// written for speed rather than delegated to the cmdlets, which cost more than a small request round trip.
    /// </summary>
    public static class RpcJson
    {
        /// <summary>Deeper than any message of the protocol; a hostile peer must not overflow the stack.</summary>
        public const int MaxDepth = 128;

        public static string Serialize(object value)
        {
            var builder = new StringBuilder(256);
            Write(builder, value, 0);
            return builder.ToString();
        }

        private static void Write(StringBuilder builder, object value, int depth)
        {
            if (depth > MaxDepth) throw new ArgumentException("The message is nested more than " + MaxDepth + " levels deep.");
            var wrapped = value as PSObject;
            if (wrapped != null)
            {
                if (wrapped.BaseObject is PSCustomObject)
                {
                    builder.Append('{');
                    bool first = true;
                    foreach (PSPropertyInfo property in wrapped.Properties)
                    {
                        if (!first) builder.Append(',');
                        first = false;
                        WriteString(builder, property.Name);
                        builder.Append(':');
                        Write(builder, property.Value, depth + 1);
                    }
                    builder.Append('}');
                    return;
                }
                value = wrapped.BaseObject;
            }
            if (value == null) { builder.Append("null"); return; }
            var text = value as string;
            if (text != null) { WriteString(builder, text); return; }
            if (value is bool) { builder.Append((bool)value ? "true" : "false"); return; }
            if (value is SwitchParameter) { builder.Append(((SwitchParameter)value).IsPresent ? "true" : "false"); return; }
            if (value is char) { WriteString(builder, value.ToString()); return; }
            // As ConvertTo-Json: an enum is its number.
            if (value is Enum) { builder.Append(Convert.ToDecimal(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)); return; }
            if (value is int || value is long || value is short || value is byte || value is sbyte || value is ushort || value is uint || value is ulong || value is decimal || value is BigInteger)
            {
                builder.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
                return;
            }
            if (value is double || value is float)
            {
                double number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsNaN(number) || double.IsInfinity(number)) throw new ArgumentException("JSON has no representation for " + number.ToString(CultureInfo.InvariantCulture) + ".");
                builder.Append(number.ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            if (value is DateTime) { WriteString(builder, ((DateTime)value).ToString("o", CultureInfo.InvariantCulture)); return; }
            if (value is DateTimeOffset) { WriteString(builder, ((DateTimeOffset)value).ToString("o", CultureInfo.InvariantCulture)); return; }
            if (value is Guid || value is Version || value is Uri) { WriteString(builder, value.ToString()); return; }
            var dictionary = value as IDictionary;
            if (dictionary != null)
            {
                builder.Append('{');
                bool first = true;
                foreach (DictionaryEntry entry in dictionary)
                {
                    if (!first) builder.Append(',');
                    first = false;
                    WriteString(builder, Convert.ToString(entry.Key, CultureInfo.InvariantCulture));
                    builder.Append(':');
                    Write(builder, entry.Value, depth + 1);
                }
                builder.Append('}');
                return;
            }
            var list = value as IEnumerable;
            if (list != null)
            {
                builder.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first) builder.Append(',');
                    first = false;
                    Write(builder, item, depth + 1);
                }
                builder.Append(']');
                return;
            }
            throw new ArgumentException("A " + value.GetType().FullName + " cannot be sent to the WinsHost broker; pass strings, numbers, booleans, arrays or dictionaries.");
        }

        private static void WriteString(StringBuilder builder, string text)
        {
            builder.Append('"');
            foreach (char c in text)
            {
                switch (c)
                {
                    case '"': builder.Append("\\\""); break;
                    case '\\': builder.Append("\\\\"); break;
                    case '\n': builder.Append("\\n"); break;
                    case '\r': builder.Append("\\r"); break;
                    case '\t': builder.Append("\\t"); break;
                    case '\b': builder.Append("\\b"); break;
                    case '\f': builder.Append("\\f"); break;
                    default:
                        // Also the line separators, which some JSON readers take for line ends.
                        if (c < 0x20 || c == '\u2028' || c == '\u2029') builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else builder.Append(c);
                        break;
                }
            }
            builder.Append('"');
        }

        /// <summary>Parses one JSON value; throws FormatException saying where the text stops being JSON.</summary>
        public static object Parse(string json)
        {
            if (json == null) throw new ArgumentNullException("json");
            var parser = new Parser(json);
            parser.SkipWhitespace();
            object value = parser.ReadValue(0);
            parser.SkipWhitespace();
            if (!parser.AtEnd) throw parser.Fail("text after the JSON value");
            return value;
        }

        private sealed class Parser
        {
            private readonly string text;
            private int position;

            public Parser(string text) { this.text = text; }

            public bool AtEnd { get { return position >= text.Length; } }

            public FormatException Fail(string what)
            {
                return new FormatException(what + " at offset " + position.ToString(CultureInfo.InvariantCulture) + ".");
            }

            public void SkipWhitespace()
            {
                while (position < text.Length)
                {
                    char c = text[position];
                    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
                    position++;
                }
            }

            public object ReadValue(int depth)
            {
                if (depth > MaxDepth) throw Fail("nesting deeper than " + MaxDepth.ToString(CultureInfo.InvariantCulture) + " levels");
                if (AtEnd) throw Fail("end of text where a value was expected");
                char c = text[position];
                switch (c)
                {
                    case '{': return ReadObject(depth);
                    case '[': return ReadArray(depth);
                    case '"': return ReadString();
                    case 't': ExpectWord("true"); return true;
                    case 'f': ExpectWord("false"); return false;
                    case 'n': ExpectWord("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                        throw Fail("unexpected character '" + c + "'");
                }
            }

            private void ExpectWord(string word)
            {
                if (string.CompareOrdinal(text, position, word, 0, word.Length) != 0) throw Fail("an unknown literal");
                position += word.Length;
            }

            private PSObject ReadObject(int depth)
            {
                position++;
                var result = new PSObject();
                SkipWhitespace();
                if (!AtEnd && text[position] == '}') { position++; return result; }
                while (true)
                {
                    SkipWhitespace();
                    if (AtEnd || text[position] != '"') throw Fail("a property name was expected");
                    string name = ReadString();
                    SkipWhitespace();
                    if (AtEnd || text[position] != ':') throw Fail("':' was expected");
                    position++;
                    SkipWhitespace();
                    object value = ReadValue(depth + 1);
                    // PowerShell property names are case-insensitive: a second 'Id' next to 'id' could not be told apart.
                    if (result.Properties[name] != null) throw Fail("the property '" + name + "' appears twice");
                    result.Properties.Add(new PSNoteProperty(name, value));
                    SkipWhitespace();
                    if (AtEnd) throw Fail("end of text inside an object");
                    char c = text[position++];
                    if (c == '}') return result;
                    if (c != ',') throw Fail("',' or '}' was expected");
                }
            }

            private object[] ReadArray(int depth)
            {
                position++;
                var items = new ArrayList();
                SkipWhitespace();
                if (!AtEnd && text[position] == ']') { position++; return new object[0]; }
                while (true)
                {
                    SkipWhitespace();
                    items.Add(ReadValue(depth + 1));
                    SkipWhitespace();
                    if (AtEnd) throw Fail("end of text inside an array");
                    char c = text[position++];
                    if (c == ']') return items.ToArray();
                    if (c != ',') throw Fail("',' or ']' was expected");
                }
            }

            private string ReadString()
            {
                position++;
                int start = position;
                // Fast path: no escapes.
                while (position < text.Length)
                {
                    char c = text[position];
                    if (c == '"') { string plain = text.Substring(start, position - start); position++; return plain; }
                    if (c == '\\') break;
                    if (c < 0x20) throw Fail("a control character inside a string");
                    position++;
                }
                var builder = new StringBuilder(text, start, position - start, Math.Max(16, (position - start) * 2));
                while (true)
                {
                    if (AtEnd) throw Fail("end of text inside a string");
                    char c = text[position++];
                    if (c == '"') return builder.ToString();
                    if (c < 0x20) { position--; throw Fail("a control character inside a string"); }
                    if (c != '\\') { builder.Append(c); continue; }
                    if (AtEnd) throw Fail("end of text inside an escape");
                    char escape = text[position++];
                    switch (escape)
                    {
                        case '"': builder.Append('"'); break;
                        case '\\': builder.Append('\\'); break;
                        case '/': builder.Append('/'); break;
                        case 'b': builder.Append('\b'); break;
                        case 'f': builder.Append('\f'); break;
                        case 'n': builder.Append('\n'); break;
                        case 'r': builder.Append('\r'); break;
                        case 't': builder.Append('\t'); break;
                        case 'u':
                            int code;
                            if (position + 4 > text.Length || !int.TryParse(text.Substring(position, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code)) throw Fail("a malformed \\u escape");
                            builder.Append((char)code);
                            position += 4;
                            break;
                        default:
                            position--;
                            throw Fail("an unknown escape '\\" + escape + "'");
                    }
                }
            }

            private object ReadNumber()
            {
                int start = position;
                if (text[position] == '-') position++;
                int integerStart = position;
                while (position < text.Length && text[position] >= '0' && text[position] <= '9') position++;
                int integerDigits = position - integerStart;
                if (integerDigits == 0) throw Fail("a digit was expected");
                if (integerDigits > 1 && text[integerStart] == '0') throw Fail("a number with a leading zero");
                bool integral = true;
                if (position < text.Length && text[position] == '.')
                {
                    integral = false;
                    position++;
                    int fractionStart = position;
                    while (position < text.Length && text[position] >= '0' && text[position] <= '9') position++;
                    if (position == fractionStart) throw Fail("a digit was expected after '.'");
                }
                if (position < text.Length && (text[position] == 'e' || text[position] == 'E'))
                {
                    integral = false;
                    position++;
                    if (position < text.Length && (text[position] == '+' || text[position] == '-')) position++;
                    int exponentStart = position;
                    while (position < text.Length && text[position] >= '0' && text[position] <= '9') position++;
                    if (position == exponentStart) throw Fail("a digit was expected in the exponent");
                }
                string literal = text.Substring(start, position - start);
                if (integral)
                {
                    long whole;
                    if (long.TryParse(literal, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out whole)) return whole;
                    return BigInteger.Parse(literal, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                }
                return double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }
    }
}
