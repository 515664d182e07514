function ConvertTo-WinsHostTestArgument {
    <#
    .SYNOPSIS
    Quotes arguments into one command line that every platform splits back into the same strings.

    .DESCRIPTION
    Start-Process joins an -ArgumentList array with spaces and quotes nothing, so a temp directory with a space
    (C:\Users\Jane Doe\AppData\Local\Temp) would split in two. .NET parses the single string with the
    CommandLineToArgvW rules on every OS, so quoting by those rules is enough: wrap in double quotes, double
    the backslashes before a quote or the closing quote, and escape the quote itself.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string[]] $Argument
    )

    $quoted = foreach ($value in $Argument) {
        if ($value.Length -gt 0 -and $value -notmatch '[\s"]') {
            $value
            continue
        }
        $builder = New-Object System.Text.StringBuilder
        [void]$builder.Append('"')
        $backslashes = 0
        foreach ($character in $value.ToCharArray()) {
            if ($character -eq '\') {
                $backslashes++
                continue
            }
            if ($character -eq '"') {
                [void]$builder.Append([char]'\', 2 * $backslashes + 1)
            }
            elseif ($backslashes -gt 0) {
                [void]$builder.Append([char]'\', $backslashes)
            }
            $backslashes = 0
            [void]$builder.Append($character)
        }
        [void]$builder.Append([char]'\', 2 * $backslashes)
        [void]$builder.Append('"')
        $builder.ToString()
    }
    $quoted -join ' '
}
