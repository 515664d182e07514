# Reads the protocol declarations in typings/*.ts, so that the tests compare the module with the protocol
# itself rather than with a copy that could drift. Dot-source it from BeforeDiscovery and BeforeAll.

function Get-TypingsPath {
    Join-Path -Path $PSScriptRoot -ChildPath '../../../typings' | Resolve-Path | Select-Object -ExpandProperty ProviderPath
}

function Get-TypingsMethod {
    # Every `method = '...'` literal (the RequestType declarations).
    $methods = foreach ($file in Get-ChildItem -LiteralPath (Get-TypingsPath) -Filter '*.ts' -File) {
        $text = Get-Content -LiteralPath $file.FullName -Raw
        foreach ($match in [regex]::Matches($text, "\bmethod\s*=\s*'([^']+)'")) {
            $match.Groups[1].Value
        }
    }
    @($methods | Sort-Object -Unique)
}

function Get-TypingsErrorTable {
    # ErrorCodes and ErrorCategories from protocol.ts, joined by name: Name, Code, Category.
    $text = Get-Content -LiteralPath (Join-Path (Get-TypingsPath) 'protocol.ts') -Raw
    $codes = [regex]::Match($text, 'export const ErrorCodes\s*=\s*\{(?<body>[^}]*)\}').Groups['body'].Value
    $categories = [regex]::Match($text, 'export const ErrorCategories[^=]*=\s*\{(?<body>[^}]*)\}').Groups['body'].Value
    foreach ($match in [regex]::Matches($codes, '(?<name>\w+)\s*:\s*(?<code>-?\d+)')) {
        $name = $match.Groups['name'].Value
        [pscustomobject]@{
            Name     = $name
            Code     = [int]$match.Groups['code'].Value
            Category = [regex]::Match($categories, "\b$name\s*:\s*'(?<category>\w+)'").Groups['category'].Value
        }
    }
}

function Get-TypingsInterfaceProperty {
    # The property names of `export interface <Name> { ... }`, in declaration order.
    param(
        [Parameter(Mandatory)] [string] $File,
        [Parameter(Mandatory)] [string] $Interface
    )
    $text = Get-Content -LiteralPath (Join-Path (Get-TypingsPath) $File) -Raw
    $body = [regex]::Match($text, "export interface $Interface\s*\{(?<body>[^}]*)\}").Groups['body'].Value
    # Drop comments first: they may contain words followed by colons.
    $body = [regex]::Replace($body, '/\*[\s\S]*?\*/', '')
    $body = [regex]::Replace($body, '//[^\n]*', '')
    @([regex]::Matches($body, '(?m)^\s*(?<name>\w+)\??\s*:') | ForEach-Object { $_.Groups['name'].Value })
}
