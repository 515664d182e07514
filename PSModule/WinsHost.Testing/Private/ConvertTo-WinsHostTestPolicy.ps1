function ConvertTo-WinsHostTestPolicy {
    <#
    .SYNOPSIS
    Completes a policy hashtable: without 'listeners', one listener offers every profile in key order.

    .DESCRIPTION
    The test broker listens on one temporary socket (--listen replaces the first listener's path), so a suite
    usually only states the profiles. An ordered dictionary keeps the order the profiles are tried in.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.IDictionary])]
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary] $Policy
    )

    $complete = [ordered]@{}
    foreach ($key in @($Policy.Keys)) {
        $complete[$key] = $Policy[$key]
    }
    if (-not $complete.Contains('listeners') -and $complete.Contains('profiles') -and $complete['profiles'] -is [System.Collections.IDictionary]) {
        $complete['listeners'] = @(@{ name = 'test'; profiles = @($complete['profiles'].Keys) })
    }
    $complete
}
