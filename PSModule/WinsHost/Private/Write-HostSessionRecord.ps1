function Write-HostSessionRecord {
    <#
    .SYNOPSIS
    Writes one record of a session invocation (a session/output notification) to the matching stream.

    .DESCRIPTION
    Output objects are written by WinsHost.SessionOutputSink, which calls this for the other streams and
    for output that is not valid CliXml (written as the error WinsHost.SessionOutputInvalid). 'error' becomes
    an ErrorRecord with the original FullyQualifiedErrorId and category (ConvertFrom-HostSessionErrorRecord); 'warning',
    'verbose' and 'debug' are written with their message through -Cmdlet, so the caller's preferences apply;
    'information' is rebuilt as an InformationRecord (MessageData, Source, Tags; a Write-Host message with its
    colours, so it shows as Write-Host output does); 'progress' as a ProgressRecord.

    With -OutputPipeline (Enter-HostSession's Out-Default) error records are rendered through it instead of
    being written to the cmdlet's pipeline, as the console renders what a command at the prompt produced.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [Parameter(Mandatory)]
        [string] $Stream,

        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string] $CliXml,

        [System.Management.Automation.SteppablePipeline] $OutputPipeline
    )

    if ($Stream -eq 'error') {
        $record = ConvertFrom-HostSessionErrorRecord -CliXml $CliXml
        if ($OutputPipeline) {
            $OutputPipeline.Process($record)
        }
        else {
            $Cmdlet.WriteError($record)
        }
        return
    }

    try {
        $value = [System.Management.Automation.PSSerializer]::Deserialize($CliXml)
    }
    catch {
        $invalid = New-HostBrokerErrorRecord -ErrorId 'SessionOutputInvalid' -Category InvalidData -ExceptionType InvalidData `
            -Message ("The session sent a '{0}' record that is not valid CliXml: {1}" -f $Stream, (Get-HostBrokerInnerException -Exception $_.Exception).Message)
        if ($OutputPipeline) {
            $OutputPipeline.Process($invalid)
        }
        else {
            $Cmdlet.WriteError($invalid)
        }
        return
    }

    # The text of a warning, verbose or debug record: PSSerializer writes InformationalRecord_Message for them.
    $messageOf = {
        param($item)
        if ($null -eq $item) {
            return ''
        }
        if ($item -is [string]) {
            return $item
        }
        if ($item -is [System.Management.Automation.InformationalRecord]) {
            return $item.Message
        }
        $itemProperties = [System.Management.Automation.PSObject]::AsPSObject($item).PSObject.Properties
        foreach ($name in @('InformationalRecord_Message', 'Message')) {
            if ($null -ne $itemProperties[$name]) {
                return [string]$itemProperties[$name].Value
            }
        }
        [string]$item
    }
    $propertyOf = {
        param($item, [string] $name)
        if ($null -eq $item) {
            return $null
        }
        $property = [System.Management.Automation.PSObject]::AsPSObject($item).PSObject.Properties[$name]
        if ($null -eq $property) {
            return $null
        }
        $property.Value
    }

    switch ($Stream) {
        'warning' {
            $Cmdlet.WriteWarning((& $messageOf $value))
        }
        'verbose' {
            $Cmdlet.WriteVerbose((& $messageOf $value))
        }
        'debug' {
            $Cmdlet.WriteDebug((& $messageOf $value))
        }
        'information' {
            $messageData = $value
            $source = 'HostSession'
            $tags = @()
            if ($value -is [System.Management.Automation.InformationRecord]) {
                $Cmdlet.WriteInformation($value)
                break
            }
            $valueObject = [System.Management.Automation.PSObject]::AsPSObject($value)
            if ($null -ne $valueObject.PSObject.Properties['MessageData']) {
                $messageData = & $propertyOf $value 'MessageData'
                if (& $propertyOf $value 'Source') {
                    $source = [string](& $propertyOf $value 'Source')
                }
                $tags = @(& $propertyOf $value 'Tags' | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_ })
            }
            $messageObject = [System.Management.Automation.PSObject]::AsPSObject($messageData)
            if ($null -ne $messageData -and $messageObject.PSObject.TypeNames -contains 'Deserialized.System.Management.Automation.HostInformationMessage') {
                # Write-Host output: a real HostInformationMessage keeps its colours and NoNewLine.
                $hostMessage = New-Object System.Management.Automation.HostInformationMessage
                $hostMessage.Message = [string](& $propertyOf $messageData 'Message')
                $hostMessage.NoNewLine = [bool](& $propertyOf $messageData 'NoNewLine')
                foreach ($colour in @('ForegroundColor', 'BackgroundColor')) {
                    $colourValue = & $propertyOf $messageData $colour
                    $parsedColour = [System.ConsoleColor]::Black
                    if ($null -ne $colourValue -and [System.Enum]::TryParse([string]$colourValue, [ref]$parsedColour)) {
                        $hostMessage.$colour = $parsedColour
                    }
                }
                $messageData = $hostMessage
            }
            $information = New-Object System.Management.Automation.InformationRecord $messageData, $source
            foreach ($tag in $tags) {
                $information.Tags.Add($tag)
            }
            $Cmdlet.WriteInformation($information)
        }
        'progress' {
            if ($value -is [System.Management.Automation.ProgressRecord]) {
                $Cmdlet.WriteProgress($value)
                break
            }
            $activityId = & $propertyOf $value 'ActivityId'
            $activity = [string](& $propertyOf $value 'Activity')
            $status = [string](& $propertyOf $value 'StatusDescription')
            if (-not $activity) {
                $activity = 'Host session'
            }
            if (-not $status) {
                $status = 'Processing'
            }
            $progress = New-Object System.Management.Automation.ProgressRecord ([int]$activityId), $activity, $status
            $percent = & $propertyOf $value 'PercentComplete'
            if ($null -ne $percent) {
                $progress.PercentComplete = [int]$percent
            }
            $seconds = & $propertyOf $value 'SecondsRemaining'
            if ($null -ne $seconds) {
                $progress.SecondsRemaining = [int]$seconds
            }
            $progress.CurrentOperation = [string](& $propertyOf $value 'CurrentOperation')
            $recordType = & $propertyOf $value 'RecordType'
            if ([string]$recordType -eq 'Completed') {
                $progress.RecordType = [System.Management.Automation.ProgressRecordType]::Completed
            }
            $Cmdlet.WriteProgress($progress)
        }
        default {
            Write-Debug "WinsHost: ignoring session output of unknown stream '$Stream'."
        }
    }
}
