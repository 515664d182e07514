function ConvertTo-HostProcessInfo {
    <#
    .SYNOPSIS
    Shapes a HostProcessInfo from the wire (typings/process.ts) as a WinsHost.Process.

    .DESCRIPTION
    Id becomes an [int] and ExitCode an [int] as Windows reports it ($LASTEXITCODE and
    System.Diagnostics.Process.ExitCode show 0xC0000005 as -1073741819, so the same value does here).
    Arguments and Exposes stay arrays, also when empty or of one item; StartTime and ExitTime become local
    [datetime] values on every edition.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.Process')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [AllowNull()]
        [psobject] $InputObject
    )

    process {
        $toArray = {
            param($value)
            $list = New-Object System.Collections.Generic.List[string]
            foreach ($item in @($value)) {
                if ($null -ne $item) {
                    $list.Add([string]$item)
                }
            }
            , $list.ToArray()
        }
        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.Process' -Property @(
            'Id'
            'Path'
            'Arguments'
            'WorkingDirectory'
            'State'
            'ExitCode'
            'Signal'
            'Detached'
            'Exposes'
            'StartTime'
            'ExitTime'
            'Rule'
        ) -Integer @('Id') -Boolean @('Detached') -Transform @{
            Arguments = $toArray
            Exposes   = $toArray
            ExitCode  = { param($value) ConvertTo-HostProcessExitCode -Value $value }
            StartTime = { param($value) ConvertTo-HostBrokerDateTime -Value $value }
            ExitTime  = { param($value) ConvertTo-HostBrokerDateTime -Value $value }
        }
    }
}
