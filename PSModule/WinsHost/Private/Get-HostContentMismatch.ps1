function Get-HostContentMismatch {
    <#
    .SYNOPSIS
    Compares what a Get-HostContent read received with the file/read response; returns why they differ, or
    $null when they agree.

    .DESCRIPTION
    The response says how many bytes the broker sent (bytesRead), from where (offset) and their SHA-256. The
    bytes received must be exactly those: a notification lost, doubled or altered on the way shows here. The
    hash is finished by this call, so it is called once per read.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader,

        # The file/read result: { path, size, offset, bytesRead, sha256 }.
        [Parameter(Mandatory)]
        [AllowNull()]
        [psobject] $Result
    )

    $null = $Reader.Hash.TransformFinalBlock((New-Object byte[] 0), 0, 0)
    $actual = ([System.BitConverter]::ToString($Reader.Hash.Hash) -replace '-', '').ToLowerInvariant()

    if ($null -ne $Reader.Problem) {
        return $Reader.Problem
    }

    $bytesRead = Get-HostBrokerMember -InputObject $Result -Path 'bytesRead'
    $expected = Get-HostBrokerMember -InputObject $Result -Path 'sha256'
    $offset = Get-HostBrokerMember -InputObject $Result -Path 'offset'
    if ($null -eq $bytesRead -or $null -eq $expected) {
        return 'the response does not say how many bytes were sent and their SHA-256'
    }
    if ([long]$bytesRead -ne $Reader.Received) {
        return 'the broker sent {0} bytes but {1} arrived' -f $bytesRead, $Reader.Received
    }
    if ($null -ne $offset -and $null -ne $Reader.FirstOffset -and [long]$offset -ne $Reader.FirstOffset) {
        return 'the broker read from offset {0} but the data arrived from offset {1}' -f $offset, $Reader.FirstOffset
    }
    if ([string]$expected -ne $actual) {
        return 'the SHA-256 of the bytes that arrived is {0}, the broker sent {1}' -f $actual, $expected
    }
    $null
}
