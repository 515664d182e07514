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
    # The property names of `export interface <Name> { ... }`, in declaration order; for
    # `interface <Name> extends <Base>` (Base in the same file) the base's properties come first.
    param(
        [Parameter(Mandatory)] [string] $File,
        [Parameter(Mandatory)] [string] $Interface
    )
    $text = Get-Content -LiteralPath (Join-Path (Get-TypingsPath) $File) -Raw
    $match = [regex]::Match($text, "export interface $Interface(?:\s+extends\s+(?<base>\w+))?\s*\{(?<body>[^}]*)\}")
    $inherited = @()
    if ($match.Groups['base'].Success) {
        $inherited = @(Get-TypingsInterfaceProperty -File $File -Interface $match.Groups['base'].Value)
    }
    $body = $match.Groups['body'].Value
    # Drop comments first: they may contain words followed by colons.
    $body = [regex]::Replace($body, '/\*[\s\S]*?\*/', '')
    $body = [regex]::Replace($body, '//[^\n]*', '')
    @($inherited) + @([regex]::Matches($body, '(?m)^\s*(?<name>\w+)\??\s*:') | ForEach-Object { $_.Groups['name'].Value })
}

function Get-TypingsMessageType {
    # Every `export namespace X { export const method = '...'; export const type = new RequestType|NotificationType... }`:
    # Namespace, Method, Kind ('Request' or 'Notification').
    foreach ($file in Get-ChildItem -LiteralPath (Get-TypingsPath) -Filter '*.ts' -File) {
        $text = Get-Content -LiteralPath $file.FullName -Raw
        $pattern = "export namespace (?<namespace>\w+)\s*\{\s*export const method\s*=\s*'(?<method>[^']+)'[^;]*;\s*export const type\s*=\s*new (?<kind>Request|Notification)Type\d*\b"
        foreach ($match in [regex]::Matches($text, $pattern)) {
            [pscustomobject]@{
                Namespace = $match.Groups['namespace'].Value
                Method    = $match.Groups['method'].Value
                Kind      = $match.Groups['kind'].Value
                File      = $file.Name
            }
        }
    }
}
