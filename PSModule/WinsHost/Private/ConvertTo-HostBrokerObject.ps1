function ConvertTo-HostBrokerObject {
    <#
    .SYNOPSIS
    Turns a wire object into an output object with a WinsHost type name and a fixed property order.

    .DESCRIPTION
    The listed properties come first, in the order of the protocol typings and with $null for any the broker
    left out, so that Format-Table, Export-Csv and Select-Object see the same shape from every broker. Properties
    the module does not know yet (a newer broker may add some within protocol major 1) are kept after them.

    Numbers are cast because Windows PowerShell 5.1 and PowerShell 7 parse JSON integers into different types
    (Int32 vs Int64); -Integer makes 'InterfaceIndex -eq 3' and parameter binding behave the same on both.
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [psobject] $InputObject,

        [Parameter(Mandatory)]
        [string] $TypeName,

        [Parameter(Mandatory)]
        [string[]] $Property,

        [string[]] $Integer = @(),

        [string[]] $Boolean = @(),

        # Property name -> scriptblock that receives the wire value as $args[0] and returns the output value.
        [System.Collections.IDictionary] $Transform = @{}
    )

    $wire = @{}
    $extra = New-Object System.Collections.Generic.List[string]
    if ($null -ne $InputObject) {
        foreach ($p in $InputObject.PSObject.Properties) {
            $wire[$p.Name] = $p.Value
            if ($Property -notcontains $p.Name) {
                $extra.Add($p.Name)
            }
        }
    }

    $output = New-Object System.Management.Automation.PSObject
    foreach ($name in @($Property) + @($extra)) {
        $value = $null
        if ($wire.ContainsKey($name)) {
            $value = $wire[$name]
        }
        if ($Transform.Contains($name)) {
            $value = & $Transform[$name] $value
        }
        elseif ($null -ne $value -and $Integer -contains $name) {
            $value = [int]$value
        }
        elseif ($null -ne $value -and $Boolean -contains $name) {
            $value = [bool]$value
        }
        $output.PSObject.Properties.Add((New-Object System.Management.Automation.PSNoteProperty $name, $value))
    }
    $output.PSObject.TypeNames.Insert(0, $TypeName)
    $output
}
