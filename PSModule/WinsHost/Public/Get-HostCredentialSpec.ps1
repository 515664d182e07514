function Get-HostCredentialSpec {
    <#
    .SYNOPSIS
    Gets the gMSA credential specs on the container host, or one credential spec document.

    .DESCRIPTION
    Asks the WinsHost broker for the credential specs a Windows container can be started with (docker run
    --security-opt "credentialspec=..."), so that a container can check the spec before it starts another
    one or before it relies on the domain identity it was given.

    -List (the default) lists the specs your profile may read (the 'credspec/list' method): the files in the
    host's CredentialSpecs directory and the specs in the registry, as WinsHost.CredentialSpecInfo objects
    (Uri, Source, Name, Path).

    -Name or -Uri gets one spec document (the 'credspec/get' method) as a WinsHost.CredentialSpec: Uri,
    Source, Name, Path, Spec (the JSON document as nested objects), and two properties computed from it:
    Domain (Spec.DomainJoinConfig.DnsName) and GroupManagedServiceAccounts (the account names).

    The broker reads only the specs its policy allows your profile (credentialSpecs.allow); others are
    refused with WinsHost.PolicyDenied. A spec that does not exist is WinsHost.NotFound; a stored spec that
    is not a valid credential spec is WinsHost.HostOperationFailed (Test-HostCredentialSpec lists what is
    wrong with it).

    .PARAMETER Name
    The file name of a spec in the host's CredentialSpecs directory (C:\ProgramData\docker\CredentialSpecs
    on Windows hosts), as in --security-opt "credentialspec=file://NAME". Sent as file://NAME.

    .PARAMETER Uri
    A spec reference as Docker takes it: file://NAME, registry://NAME (a value under
    HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\Containers\CredentialSpecs) or
    raw://JSON (an inline document). Objects with a Uri property, such as the output of -List, can be piped
    in.

    .PARAMETER List
    Lists the credential specs instead of reading one. This is the default when no other parameter is given.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-HostCredentialSpec

    Lists the credential specs on the host that you may read.

    .EXAMPLE
    $spec = Get-HostCredentialSpec -Name webapp1.json
    if (Test-HostCredentialSpec -Name webapp1.json -Quiet) {
        docker run --rm --security-opt "credentialspec=file://webapp1.json" --hostname webapp01 mcr.microsoft.com/windows/servercore:ltsc2022 nltest /parentdomain
    }
    else {
        Write-Warning "webapp1.json is not usable for $($spec.Domain): fix it before starting the container."
    }

    Checks the gMSA credential spec before starting a container with it: the spec exists, is valid, and its
    group managed service account (WebApp01 in $spec.GroupManagedServiceAccounts) resolves on the host, so
    that 'nltest /parentdomain' inside the new container will report the domain in $spec.Domain instead of
    failing because the container has no domain identity.

    .EXAMPLE
    (Get-HostCredentialSpec -Uri registry://webapp1).Spec.DomainJoinConfig

    Shows the domain join settings (DnsName, NetBiosName, Sid, ...) of a spec stored in the registry.

    .EXAMPLE
    Get-HostCredentialSpec -List | Get-HostCredentialSpec | Select-Object Name, Domain, GroupManagedServiceAccounts

    Shows which domain and accounts every spec on the host is for, by piping each spec's Uri.

    .INPUTS
    System.String. The Uri property of piped objects binds to -Uri.

    .OUTPUTS
    WinsHost.CredentialSpecInfo (-List), WinsHost.CredentialSpec (-Name, -Uri)

    .LINK
    Test-HostCredentialSpec

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(DefaultParameterSetName = 'List')]
    [OutputType('WinsHost.CredentialSpec', ParameterSetName = ('Name', 'Uri'))]
    [OutputType('WinsHost.CredentialSpecInfo', ParameterSetName = 'List')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Name', Position = 0)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,

        [Parameter(Mandatory, ParameterSetName = 'Uri', ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Uri,

        [Parameter(ParameterSetName = 'List')]
        [switch] $List,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        if ($PSCmdlet.ParameterSetName -eq 'List') {
            try {
                $result = Invoke-HostRpc -Method 'credspec/list' -Params @{} -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }
            $specs = Get-HostBrokerMember -InputObject $result -Path 'specs'
            foreach ($spec in @($specs)) {
                if ($null -ne $spec) {
                    ConvertTo-HostCredentialSpecInfo -InputObject $spec
                }
            }
            return
        }

        $references = $Uri
        if ($PSCmdlet.ParameterSetName -eq 'Name') {
            $references = @(foreach ($fileName in $Name) { 'file://' + $fileName })
        }
        foreach ($reference in $references) {
            try {
                $result = Invoke-HostRpc -Method 'credspec/get' -Params @{ uri = $reference } -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }
            ConvertTo-HostCredentialSpec -InputObject $result
        }
    }
}
