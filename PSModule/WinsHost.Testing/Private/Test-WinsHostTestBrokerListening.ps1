function Test-WinsHostTestBrokerListening {
    <#
    .SYNOPSIS
    Whether the broker's socket or pipe exists yet, without connecting to it.

    .DESCRIPTION
    Connecting would be audited as a connection (and as a refused one when the policy has no profile for the
    test's own user), which a suite asserting on the audit log would then see. The broker binds and listens in
    one step, so the socket file (or the pipe name) existing means it accepts connections.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string] $Pipe
    )

    if (Test-WinsHostTestWindows) {
        # Listing \\.\pipe\ does not connect; Test-Path on a pipe would take one of its instances.
        $names = [System.IO.Directory]::GetFiles('\\.\pipe\')
        return ($names -contains $Pipe)
    }
    Test-Path -LiteralPath $Pipe
}
