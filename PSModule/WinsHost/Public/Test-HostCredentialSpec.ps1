function Test-HostCredentialSpec {
    <#
    .SYNOPSIS
    Checks a gMSA credential spec on the container host: is the document valid, do its accounts resolve.

    .DESCRIPTION
    Asks the WinsHost broker to check a credential spec (the 'credspec/test' method) before a container is
    started with it (docker run --security-opt "credentialspec=..."). The result is a
    WinsHost.CredentialSpecTestResult:

      Valid      the document has every field a credential spec needs, in the right form;
      Problems   what is wrong with it (WinsHost.CredentialSpecProblem: Field, Message);
      Accounts   each group managed service account of the spec and whether the host can use it
                 (WinsHost.CredentialSpecAccountCheck: Name, Scope, Resolved, Detail). Resolved is $null
                 where the host cannot check (Linux hosts).

    A spec that is not valid is a result (Valid = $false), not an error. A spec that does not exist is
    WinsHost.NotFound, one your profile may not read WinsHost.PolicyDenied.

    .PARAMETER Name
    The file name of a spec in the host's CredentialSpecs directory, as in
    --security-opt "credentialspec=file://NAME". Sent as file://NAME.

    .PARAMETER Uri
    A spec reference as Docker takes it: file://NAME, registry://NAME or raw://JSON. Objects with a Uri
    property, such as the output of Get-HostCredentialSpec, can be piped in.

    .PARAMETER Quiet
    Returns only $true or $false: $true when the spec is valid and no account failed to resolve (an account
    the host cannot check does not count as failed).

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Test-HostCredentialSpec -Name webapp1.json

    Shows whether webapp1.json is a valid credential spec and whether its gMSA resolves on the host.

    .EXAMPLE
    if (Test-HostCredentialSpec -Name webapp1.json -Quiet) {
        docker run --rm --security-opt "credentialspec=file://webapp1.json" --hostname webapp01 mcr.microsoft.com/windows/servercore:ltsc2022 nltest /parentdomain
    }

    Starts a container with the gMSA only when its credential spec checks out, so that 'nltest /parentdomain'
    in it reports the domain instead of failing on a missing or broken spec.

    .EXAMPLE
    Get-HostCredentialSpec -List | Test-HostCredentialSpec | Where-Object { -not $_.Valid } | Select-Object -ExpandProperty Problems

    Checks every credential spec on the host and shows the problems of the invalid ones.

    .EXAMPLE
    (Test-HostCredentialSpec -Uri registry://webapp1).Accounts | Where-Object Resolved -eq $false

    Lists the accounts of a registry spec that the host could not resolve, with the reason in Detail.

    .INPUTS
    System.String. The Uri property of piped objects binds to -Uri.

    .OUTPUTS
    WinsHost.CredentialSpecTestResult, or System.Boolean with -Quiet.

    .LINK
    Get-HostCredentialSpec

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    [OutputType('WinsHost.CredentialSpecTestResult')]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Name', Position = 0)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,

        [Parameter(Mandatory, ParameterSetName = 'Uri', ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Uri,

        [switch] $Quiet,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        $references = $Uri
        if ($PSCmdlet.ParameterSetName -eq 'Name') {
            $references = @(foreach ($fileName in $Name) { 'file://' + $fileName })
        }
        foreach ($reference in $references) {
            try {
                $result = Invoke-HostRpc -Method 'credspec/test' -Params @{ uri = $reference } -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }
            $test = ConvertTo-HostCredentialSpecTestResult -InputObject $result
            if (-not $Quiet) {
                $test
                continue
            }
            $failed = @($test.Accounts | Where-Object { $null -ne $_.Resolved -and -not $_.Resolved })
            ($test.Valid -eq $true) -and $failed.Count -eq 0
        }
    }
}
