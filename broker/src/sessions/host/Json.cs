using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace WinsHost.SessionHost
{
    public sealed class JsonException : Exception
    {
        public JsonException(string message) : base(message) { }
    }

    /// Strict JSON (RFC 8259): objects become Dictionary<string, object>, arrays List<object>, numbers double.
    /// netstandard2.0 has no JSON library, and the host takes no package dependency beside what PowerShell loads.
    public static class Json
    {
        private const int MaxNesting = 64;

        public static object Parse(string text)
        {
            int position = 0;
            object value = ParseValue(text, ref position, 0);
            SkipWhitespace(text, ref position);
            if (position != text.Length) throw new JsonException("Unexpected character at offset " + position + " after the JSON value.");
            return value;
        }

        private static void SkipWhitespace(string text, ref int position)
        {
            while (position < text.Length)
            {
                char c = text[position];
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n') position++; else break;
            }
        }

        private static object ParseValue(string text, ref int position, int nesting)
        {
            SkipWhitespace(text, ref position);
            if (position >= text.Length) throw new JsonException("Unexpected end of JSON.");
            char c = text[position];
            if (c == '{') return ParseObject(text, ref position, nesting + 1);
            if (c == '[') return ParseArray(text, ref position, nesting + 1);
            if (c == '"') return ParseString(text, ref position);
            if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(text, ref position);
            if (Matches(text, position, "true")) { position += 4; return true; }
            if (Matches(text, position, "false")) { position += 5; return false; }
            if (Matches(text, position, "null")) { position += 4; return null; }
            throw new JsonException("Unexpected character '" + c + "' at offset " + position + ".");
        }

        private static bool Matches(string text, int position, string literal)
        {
            return string.CompareOrdinal(text, position, literal, 0, literal.Length) == 0 && position + literal.Length <= text.Length;
        }

        private static Dictionary<string, object> ParseObject(string text, ref int position, int nesting)
        {
            if (nesting > MaxNesting) throw new JsonException("JSON nested deeper than " + MaxNesting + " levels.");
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            position++;
            SkipWhitespace(text, ref position);
            if (position < text.Length && text[position] == '}') { position++; return result; }
            while (true)
            {
                SkipWhitespace(text, ref position);
                if (position >= text.Length || text[position] != '"') throw new JsonException("Expected a property name at offset " + position + ".");
                string key = ParseString(text, ref position);
                SkipWhitespace(text, ref position);
                if (position >= text.Length || text[position] != ':') throw new JsonException("Expected ':' at offset " + position + ".");
                position++;
                object value = ParseValue(text, ref position, nesting);
                if (result.ContainsKey(key)) throw new JsonException("Duplicate property '" + key + "'.");
                result.Add(key, value);
                SkipWhitespace(text, ref position);
                if (position >= text.Length) throw new JsonException("Unexpected end of JSON in an object.");
                if (text[position] == ',') { position++; continue; }
                if (text[position] == '}') { position++; return result; }
                throw new JsonException("Expected ',' or '}' at offset " + position + ".");
            }
        }

        private static List<object> ParseArray(string text, ref int position, int nesting)
        {
            if (nesting > MaxNesting) throw new JsonException("JSON nested deeper than " + MaxNesting + " levels.");
            var result = new List<object>();
            position++;
            SkipWhitespace(text, ref position);
            if (position < text.Length && text[position] == ']') { position++; return result; }
            while (true)
            {
                result.Add(ParseValue(text, ref position, nesting));
                SkipWhitespace(text, ref position);
                if (position >= text.Length) throw new JsonException("Unexpected end of JSON in an array.");
                if (text[position] == ',') { position++; continue; }
                if (text[position] == ']') { position++; return result; }
                throw new JsonException("Expected ',' or ']' at offset " + position + ".");
            }
        }

        private static int ParseHex4(string text, int position)
        {
            if (position + 4 > text.Length) throw new JsonException("Truncated \\u escape.");
            int value = 0;
            for (int i = 0; i < 4; i++)
            {
                char c = text[position + i];
                int digit;
                if (c >= '0' && c <= '9') digit = c - '0';
                else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
                else throw new JsonException("Invalid \\u escape at offset " + position + ".");
                value = value * 16 + digit;
            }
            return value;
        }

        private static string ParseString(string text, ref int position)
        {
            position++;
            var builder = new StringBuilder();
            while (true)
            {
                if (position >= text.Length) throw new JsonException("Unterminated string.");
                char c = text[position++];
                if (c == '"') return builder.ToString();
                if (c < 0x20) throw new JsonException("Unescaped control character in a string at offset " + (position - 1) + ".");
                if (char.IsSurrogate(c))
                {
                    if (char.IsHighSurrogate(c) && position < text.Length && char.IsLowSurrogate(text[position])) { builder.Append(c).Append(text[position++]); continue; }
                    throw new JsonException("Unpaired surrogate in a string at offset " + (position - 1) + ".");
                }
                if (c != '\\') { builder.Append(c); continue; }
                if (position >= text.Length) throw new JsonException("Unterminated escape.");
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
                        {
                            char unit = (char)ParseHex4(text, position);
                            position += 4;
                            if (char.IsHighSurrogate(unit))
                            {
                                if (position + 6 <= text.Length && text[position] == '\\' && text[position + 1] == 'u')
                                {
                                    char low = (char)ParseHex4(text, position + 2);
                                    if (char.IsLowSurrogate(low)) { builder.Append(unit).Append(low); position += 6; break; }
                                }
                                throw new JsonException("Unpaired surrogate escape at offset " + (position - 6) + ".");
                            }
                            if (char.IsLowSurrogate(unit)) throw new JsonException("Unpaired surrogate escape at offset " + (position - 6) + ".");
                            builder.Append(unit);
                            break;
                        }
                    default: throw new JsonException("Invalid escape '\\" + escape + "' at offset " + (position - 2) + ".");
                }
            }
        }

        private static double ParseNumber(string text, ref int position)
        {
            int start = position;
            if (text[position] == '-') position++;
            if (position >= text.Length) throw new JsonException("Truncated number.");
            if (text[position] == '0') position++;
            else if (text[position] >= '1' && text[position] <= '9') { while (position < text.Length && char.IsDigit(text[position]) && text[position] < 128) position++; }
            else throw new JsonException("Invalid number at offset " + start + ".");
            if (position < text.Length && text[position] == '.')
            {
                position++;
                int digits = position;
                while (position < text.Length && text[position] >= '0' && text[position] <= '9') position++;
                if (position == digits) throw new JsonException("Invalid number at offset " + start + ".");
            }
            if (position < text.Length && (text[position] == 'e' || text[position] == 'E'))
            {
                position++;
                if (position < text.Length && (text[position] == '+' || text[position] == '-')) position++;
                int digits = position;
                while (position < text.Length && text[position] >= '0' && text[position] <= '9') position++;
                if (position == digits) throw new JsonException("Invalid number at offset " + start + ".");
            }
            return double.Parse(text.Substring(start, position - start), NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        /// An object whose properties keep their order: name, value, name, value...
        public static string Object(params object[] namesAndValues)
        {
            var builder = new StringBuilder();
            WriteObject(builder, namesAndValues);
            return builder.ToString();
        }

        private static void WriteObject(StringBuilder builder, object[] namesAndValues)
        {
            builder.Append('{');
            for (int i = 0; i + 1 < namesAndValues.Length; i += 2)
            {
                if (i > 0) builder.Append(',');
                WriteString(builder, (string)namesAndValues[i]);
                builder.Append(':');
                WriteValue(builder, namesAndValues[i + 1]);
            }
            builder.Append('}');
        }

        private static void WriteValue(StringBuilder builder, object value)
        {
            if (value == null) { builder.Append("null"); return; }
            string text = value as string;
            if (text != null) { WriteString(builder, text); return; }
            if (value is bool) { builder.Append((bool)value ? "true" : "false"); return; }
            if (value is int || value is long) { builder.Append(Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)); return; }
            if (value is double)
            {
                double number = (double)value;
                if (double.IsNaN(number) || double.IsInfinity(number)) throw new JsonException("JSON has no representation for " + number + ".");
                builder.Append(number.ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            IList list = value as IList;
            if (list != null)
            {
                builder.Append('[');
                for (int i = 0; i < list.Count; i++) { if (i > 0) builder.Append(','); WriteValue(builder, list[i]); }
                builder.Append(']');
                return;
            }
            throw new JsonException("Cannot write a " + value.GetType().FullName + " as JSON.");
        }

        private static void WriteString(StringBuilder builder, string text)
        {
            builder.Append('"');
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
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
                        bool pairedSurrogate = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
                        if (pairedSurrogate) { builder.Append(c).Append(text[++i]); }
                        // Control characters, U+2028/9 and lone surrogates are escaped so every line is valid UTF-8 JSON.
                        else if (c < 0x20 || c == '\u2028' || c == '\u2029' || char.IsSurrogate(c)) builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else builder.Append(c);
                        break;
                }
            }
            builder.Append('"');
        }
    }
}
